// Public surface of the HTTP front end.
export { createHttpApp } from './app.js';
export { startHttpServer, type HttpServerHandle } from './server.js';
export { createMetricsApp } from './metrics-app.js';
export { DEFAULT_MAX_INPUT_SIZE, RESTRICTED_GROUPS, type HttpDeps, type RestrictedApi, type RestrictedGroup } from './deps.js';
