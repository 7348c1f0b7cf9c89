// System and CUDA shared memory (protocol §1.10). Client shared memory is disabled, as in a
// default Triton: status lists nothing, register/unregister answer 501.
import { unsupported } from '../../runtime/errors.js';
import { route, replyJson, type RouteModule } from './reply.js';

const DISABLED = "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.";

export const shmRoutes: RouteModule = (router) => {
  for (const kind of ['systemsharedmemory', 'cudasharedmemory']) {
    const paths = (action: string) => [`/v2/${kind}/${action}`, `/v2/${kind}/region/:region/${action}`];
    route(router, 'GET', paths('status'), (ctx) => replyJson(ctx, []));
    route(router, 'POST', [...paths('register'), ...paths('unregister')], () => {
      throw unsupported(DISABLED);
    });
  }
};
