// Lint-style checks of the container files (hadolint is not a Debian package, so the rules that
// matter here are checked directly): the documented contract of the images (non-root, /models,
// ports, HEALTHCHECK on ready, SIGTERM, entrypoint), hadolint's usual rules, the Apptainer
// definition's equivalence with the GPU image, the service files, and the shell scripts (bash -n,
// shellcheck when installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const read = (rel: string): string => readFileSync(path.join(repoRoot(), rel), 'utf8');

interface Instruction { op: string; args: string; line: number }
interface Stage { from: string; name?: string; instructions: Instruction[] }

/** Dockerfile → stages of instructions (continuations joined, comments and parser directives dropped). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) {
      l = l.slice(0, -1) + ' ';
      // comment lines inside a continuation are dropped by Docker too
      do { i++; } while (i < lines.length && /^\s*#/.test(lines[i]!));
      l += lines[i] ?? '';
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/s.exec(l);
    assert.ok(m, `unparsable line ${start + 1}: ${l}`);
    instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM at line ${ins.line}`);
      stages.push({ from: m[1]!.replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? `\${${n}}`), name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(ins.op, 'ARG', `only ARG may precede the first FROM (line ${ins.line})`);
      const m = /^(\w+)(?:=(.*))?$/.exec(ins.args);
      args.set(m![1]!, m![2] ?? '');
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { args, stages };
}

const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);
const one = (stage: Stage, op: string) => {
  const found = ops(stage, op);
  assert.equal(found.length, 1, `exactly one ${op} in the final stage`);
  return found[0]!.args;
};

for (const file of ['images/Dockerfile', 'images/Dockerfile.cpu']) {
  test(`${file}: runtime contract (non-root, /models, ports, HEALTHCHECK on ready, SIGTERM, entrypoint)`, () => {
    const { stages } = parseDockerfile(read(file));
    assert.ok(stages.length >= 2, 'multi-stage: build tools stay out of the runtime image');
    const final = stages.at(-1)!;
    const user = one(final, 'USER');
    assert.doesNotMatch(user, /^(root|0)(:|$)/, 'final USER is not root');
    assert.match(user, /^\d+(:\d+)?$/, 'numeric USER, so runAsNonRoot can verify it');
    assert.deepEqual(JSON.parse(one(final, 'VOLUME')), ['/models']);
    assert.deepEqual(one(final, 'EXPOSE').split(/\s+/).sort(), ['8000', '8002']);
    assert.equal(one(final, 'STOPSIGNAL'), 'SIGTERM');
    const health = one(final, 'HEALTHCHECK');
    assert.match(health, /--start-period=\d+s/, 'a start period covers model loading');
    assert.match(health, /CMD .*curl -f\S* .*\/v2\/health\/ready/, 'HEALTHCHECK polls ready with curl -f');
    // exec form, so node is PID 1 and receives SIGTERM itself
    const entrypoint = JSON.parse(one(final, 'ENTRYPOINT')) as string[];
    const cmd = JSON.parse(one(final, 'CMD')) as string[];
    assert.deepEqual([...entrypoint, ...cmd], ['dawnserve', 'serve', '--model-repository', '/models']);
    const env = ops(final, 'ENV').map((e) => e.args).join(' ');
    assert.match(env, /DAWNSERVE_MODEL_REPOSITORY=\/models/);
    assert.match(env, /XDG_RUNTIME_DIR=/);
    // the app's runtime assets (onnx.proto lives in src/) and the CLI on PATH
    const copies = ops(final, 'COPY').map((c) => c.args).join('\n');
    for (const p of ['/src/dist ./dist', '/src/src ./src', 'node_modules ./node_modules', 'models /models']) assert.ok(copies.includes(p), `final stage copies ${p}`);
    assert.ok(ops(final, 'RUN').some((r) => r.args.includes('/usr/local/bin/dawnserve')), 'dawnserve on PATH');
  });

  test(`${file}: hadolint's rules that apply (pinned bases, apt hygiene, COPY not ADD, pipefail, WORKDIR)`, () => {
    const { args, stages } = parseDockerfile(read(file));
    const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
    for (const s of stages) {
      if (stageNames.has(s.from)) continue;
      assert.match(s.from, /:[\w.-]+$/, `DL3006/DL3007: base ${s.from} has an explicit tag`);
      assert.doesNotMatch(s.from, /:latest$/, `DL3007: ${s.from} is not :latest`);
      const runs = ops(s, 'RUN').map((r) => r.args);
      for (const r of runs) {
        assert.doesNotMatch(r, /\bsudo\b/, 'DL3004: no sudo');
        assert.doesNotMatch(r, /^cd\s|&&\s*cd\s/, 'DL3003: WORKDIR, not cd');
        if (/apt-get install/.test(r)) {
          assert.match(r, /apt-get install -y --no-install-recommends/, 'DL3015: --no-install-recommends, non-interactive');
          assert.match(r, /apt-get update/, 'DL3009: update in the same layer as install');
          assert.match(r, /rm -rf \/var\/lib\/apt\/lists/, 'DL3009: apt lists removed in the same layer');
        }
        if (r.includes('|')) assert.ok(ops(s, 'SHELL').length > 0 || !/\|(?!\|)/.test(r.replace(/\|\|/g, '')), 'DL4006: pipefail SHELL before pipes');
        assert.doesNotMatch(r, /npm install(?! --omit=dev)[^&]*@tensorflow\/tfjs-node-gpu(?!@\d)/, 'DL3016: npm packages pinned');
      }
      for (const w of ops(s, 'WORKDIR')) assert.match(w.args, /^\//, 'DL3000: absolute WORKDIR');
      assert.equal(ops(s, 'ADD').length, 0, 'DL3020: COPY, not ADD');
      assert.ok(ops(s, 'MAINTAINER').length === 0, 'DL4000: no MAINTAINER');
    }
    assert.ok(args.size > 0, 'base images are build ARGs');
  });
}

test('images/Dockerfile: CUDA 11.8 + cuDNN 8 runtime, Node from the node image, tfjs-node-gpu, Vulkan ICD', () => {
  const text = read('images/Dockerfile');
  const { args, stages } = parseDockerfile(text);
  assert.equal(args.get('CUDA_IMAGE'), 'nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04');
  assert.match(args.get('NODE_IMAGE') ?? '', /node:20-bookworm$/);
  assert.equal(args.get('TFJS_NODE_GPU_VERSION'), '4.22.0');
  const final = stages.at(-1)!;
  assert.equal(final.from, args.get('CUDA_IMAGE'));
  const copies = ops(final, 'COPY').map((c) => c.args);
  assert.ok(copies.includes('--from=build /usr/local/bin/node /usr/local/bin/node'), 'Node binary from the build stage');
  assert.ok(copies.includes('images/vulkan/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json'));
  const env = ops(final, 'ENV').map((e) => e.args).join(' ');
  assert.match(env, /NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
  const runs = ops(final, 'RUN').map((r) => r.args).join('\n');
  for (const pkg of ['libvulkan1', 'mesa-vulkan-drivers']) assert.match(runs, new RegExp(`\\b${pkg}\\b`));
  const tfjsStage = stages.find((s) => s.name === 'tfjs-gpu')!;
  assert.ok(ops(tfjsStage, 'RUN').some((r) => r.args.includes('"@tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION}"')));
  assert.ok(copies.some((c) => c.startsWith('--from=tfjs-gpu /opt/dawnserve/node_modules')), 'runtime node_modules include tfjs-node-gpu');
});

test('images/vulkan/nvidia_icd.json names the NVIDIA ICD library the container toolkit mounts', () => {
  const icd = JSON.parse(read('images/vulkan/nvidia_icd.json')) as { file_format_version: string; ICD: { library_path: string; api_version: string } };
  assert.equal(icd.ICD.library_path, 'libEGL_nvidia.so.0');
  assert.match(icd.file_format_version, /^1\.0\.\d+$/);
  assert.match(icd.ICD.api_version, /^1\.\d+\.\d+$/);
});

test('images/Dockerfile.cpu: Debian base by ARG, Node from the npm registry pinned by integrity, lavapipe by the shared script', () => {
  const { args, stages } = parseDockerfile(read('images/Dockerfile.cpu'));
  assert.equal(args.get('BASE_IMAGE'), 'localhost/bookworm:base');
  assert.ok(stages.every((s) => s.from === '${BASE_IMAGE}' || s.from === 'localhost/bookworm:base' || s.from === 'node'), 'no other base image');
  const node = stages.find((s) => s.name === 'node')!;
  const nodeArgs = ops(node, 'ARG').map((a) => a.args);
  assert.ok(nodeArgs.some((a) => /^NODE_VERSION=20\./.test(a)));
  assert.ok(nodeArgs.some((a) => /^NODE_INTEGRITY=sha512-/.test(a)) && nodeArgs.some((a) => /^NPM_INTEGRITY=sha512-/.test(a)));
  assert.ok(ops(node, 'RUN').some((r) => r.args.includes('openssl dgst -sha512')), 'tarballs checked against their integrity');
  const runs = ops(stages.at(-1)!, 'RUN').map((r) => r.args).join('\n');
  assert.match(runs, /bash \/tmp\/install-system-deps\.sh/);
  const instructions = stages.flatMap((st) => st.instructions.filter((i) => i.op !== 'LABEL').map((i) => `${i.op} ${i.args}`)).join('\n');
  assert.doesNotMatch(instructions, /nvidia|cuda/i, 'nothing CUDA in the CPU image');
});

test('images/*.dockerignore keeps the build context to what the images copy', () => {
  const ignore = read('images/Dockerfile.dockerignore');
  assert.match(ignore, /^\*$/m);
  for (const p of ['!package.json', '!package-lock.json', '!.npmrc', '!tsconfig.json', '!src/', '!models/', '!scripts/install-system-deps.sh', '!images/vulkan/']) {
    assert.ok(ignore.split('\n').includes(p), `${p} is in the context`);
  }
  assert.equal(read('images/Dockerfile.cpu.dockerignore'), ignore);
});

// ---- Apptainer ------------------------------------------------------------------------------

const SECTIONS = new Set(['setup', 'files', 'environment', 'post', 'runscript', 'startscript', 'test', 'labels', 'help', 'app', 'arguments']);

function parseDef(text: string): Array<{ header: Map<string, string>; sections: Map<string, string> }> {
  const stages: Array<{ header: Map<string, string>; sections: Map<string, string> }> = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const h = /^(Bootstrap|From|Stage):\s*(\S+)\s*$/.exec(line);
    if (h) {
      if (h[1] === 'Bootstrap') stages.push({ header: new Map(), sections: new Map() });
      stages.at(-1)!.header.set(h[1]!, h[2]!);
      current = undefined;
      continue;
    }
    const s = /^%(\w+)(.*)$/.exec(line);
    if (s) {
      assert.ok(SECTIONS.has(s[1]!), `unknown section %${s[1]}`);
      current = `${s[1]}${s[2]!.trim() ? ' ' + s[2]!.trim() : ''}`;
      assert.ok(stages.length > 0, 'header before sections');
      stages.at(-1)!.sections.set(current, '');
      continue;
    }
    if (current && !/^\s*#/.test(line)) {
      const sections = stages.at(-1)!.sections;
      sections.set(current, sections.get(current)! + line + '\n');
    } else if (!current) {
      assert.match(line, /^\s*(#.*)?$/, `text outside a section: ${line}`);
    }
  }
  return stages;
}

test('images/dawnserve.def: two stages equivalent to images/Dockerfile', () => {
  const def = read('images/dawnserve.def');
  const stages = parseDef(def);
  assert.equal(stages.length, 2);
  const [build, runtime] = stages as [typeof stages[0], typeof stages[0]];
  assert.equal(build.header.get('Bootstrap'), 'docker');
  assert.equal(build.header.get('From'), 'node:20-bookworm');
  assert.equal(build.header.get('Stage'), 'build');
  assert.equal(runtime.header.get('From'), 'nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04');
  assert.ok(read('images/Dockerfile').includes(`nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04`), 'same CUDA base as the OCI image');
  // every %files source exists in the repository (paths relative to the root, as build.sh runs it)
  for (const line of (build.sections.get('files') ?? '').split('\n').concat((runtime.sections.get('files') ?? '').split('\n'))) {
    const src = line.trim().split(/\s+/)[0];
    if (src) assert.ok(statSync(path.join(repoRoot(), src)), `%files source ${src} exists`);
  }
  const fromBuild = runtime.sections.get('files from build') ?? '';
  for (const p of ['/usr/local/bin/node', '/src/node_modules', '/src/dist', '/src/src']) assert.ok(fromBuild.includes(p), `%files from build copies ${p}`);
  assert.match(runtime.sections.get('files')!, /images\/vulkan\/nvidia_icd\.json \/etc\/vulkan\/icd\.d\/nvidia_icd\.json/);
  const post = runtime.sections.get('post')!;
  assert.match(post, /set -eu/);
  assert.match(post, /@tensorflow\/tfjs-node-gpu@4\.22\.0/);
  assert.match(post, /apt-get install -y --no-install-recommends[\s\\]+ca-certificates curl libvulkan1 mesa-vulkan-drivers/);
  assert.match(post, /rm -rf \/var\/lib\/apt\/lists/);
  assert.match(post, /ln -s \/opt\/dawnserve\/dist\/src\/cli\.js \/usr\/local\/bin\/dawnserve/);
  assert.match(build.sections.get('post')!, /npm ci[\s\S]*npm run build[\s\S]*npm prune --omit=dev/);
  const env = runtime.sections.get('environment')!;
  assert.match(env, /NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
  assert.match(env, /DAWNSERVE_MODEL_REPOSITORY=\/models/);
  assert.match(runtime.sections.get('runscript')!, /set -- serve --model-repository \/models[\s\S]*exec dawnserve "\$@"/, 'runscript execs (signals reach node)');
  assert.match(runtime.sections.get('startscript')!, /exec dawnserve serve --model-repository \/models/);
  for (const s of ['test', 'labels', 'help']) assert.ok(runtime.sections.has(s), `%${s}`);
  // the %post and %test bodies are shell: they must at least parse
  for (const [name, body] of [['post', post], ['build post', build.sections.get('post')!], ['test', runtime.sections.get('test')!], ['runscript', runtime.sections.get('runscript')!]]) {
    const r = spawnSync('sh', ['-n'], { input: body });
    assert.equal(r.status, 0, `%${name} parses with sh -n: ${r.stderr}`);
  }
});

// ---- service files --------------------------------------------------------------------------

test('deploy/dawnserve.service: restart on failure, readiness wait on ready, SIGTERM with a stop timeout, logs', () => {
  const unit = read('deploy/dawnserve.service').replace(/\\\n\s*/g, ' ');
  const keys = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) { section = s[1]!; continue; }
    const kv = /^(\w+)=(.*)$/.exec(line);
    assert.ok(kv, `unit line: ${line}`);
    const k = `${section}.${kv[1]}`;
    keys.set(k, [...(keys.get(k) ?? []), kv[2]!]);
  }
  const get = (k: string) => keys.get(k)?.at(-1);
  assert.equal(get('Service.Restart'), 'on-failure');
  assert.equal(get('Service.KillSignal'), 'SIGTERM');
  assert.match(get('Service.TimeoutStopSec') ?? '', /^\d+$/);
  assert.ok(Number(get('Service.TimeoutStartSec')) > 300, 'start timeout covers the readiness wait');
  assert.match(get('Service.ExecStartPost') ?? '', /curl -f\S* .*\/v2\/health\/ready/);
  // systemd expands $VAR/${VAR}; a literal $ for the shell must be written $$
  assert.doesNotMatch((get('Service.ExecStartPost') ?? '').replace(/\$\$|\$\{DAWNSERVE_\w+\}/g, ''), /\$/);
  assert.match(get('Service.ExecStart') ?? '', /podman run .*--stop-signal SIGTERM .*\/models:ro .*serve --model-repository \/models/);
  assert.match(get('Service.ExecStop') ?? '', /podman stop .*-t \d+/);
  assert.ok(get('Service.LogsDirectory') && /--log-driver/.test((keys.get('Service.Environment') ?? []).join(' ')), 'log location configured');
  assert.equal(get('Install.WantedBy'), 'multi-user.target');
  const verify = spawnSync('systemd-analyze', ['verify', path.join(repoRoot(), 'deploy/dawnserve.service')], { encoding: 'utf8' });
  if (!verify.error) assert.doesNotMatch(verify.stderr, /dawnserve\.service:\d+:/, `systemd-analyze verify: ${verify.stderr}`);
});

test('deploy/compose.yaml: healthcheck on ready, GPU reservation, /models, SIGTERM with a grace period', () => {
  const compose = read('deploy/compose.yaml');
  assert.match(compose, /test: \["CMD", "curl", "-fsS", "-o", "\/dev\/null", "http:\/\/127\.0\.0\.1:8000\/v2\/health\/ready"\]/);
  assert.match(compose, /start_period: \d+s/);
  assert.match(compose, /stop_signal: SIGTERM/);
  assert.match(compose, /stop_grace_period: \d+s/);
  assert.match(compose, /restart: on-failure/);
  assert.match(compose, /- driver: nvidia\n\s+count: all\n\s+capabilities: \[gpu, compute, utility, graphics\]/);
  assert.match(compose, /:\/models:ro"/);
  assert.match(compose, /dockerfile: images\/Dockerfile\n/);
  assert.match(compose, /dockerfile: images\/Dockerfile\.cpu\n/);
  assert.doesNotMatch(compose, /\t/, 'YAML indents with spaces');
});

// ---- shell scripts --------------------------------------------------------------------------

const scripts = (): string[] => [
  'images/smoke.sh',
  ...readdirSync(path.join(repoRoot(), 'images/apptainer')).filter((f) => f.endsWith('.sh')).map((f) => `images/apptainer/${f}`),
  'test/images/fake-apptainer.sh',
];

test('shell scripts: bash -n, strict mode, shellcheck clean when installed', (t) => {
  for (const s of scripts()) {
    execFileSync('bash', ['-n', path.join(repoRoot(), s)]);
    const text = read(s);
    if (!s.endsWith('common.sh')) {
      assert.match(text, /^#!\/usr\/bin\/env bash\n/, `${s} has a bash shebang`);
      assert.match(text, /^set -euo pipefail$/m, `${s} runs with set -euo pipefail`);
      assert.ok((statSync(path.join(repoRoot(), s)).mode & 0o111) !== 0, `${s} is executable`);
    }
  }
  const sc = spawnSync('shellcheck', ['-x', ...scripts()], { cwd: repoRoot(), encoding: 'utf8' });
  if (sc.error) {
    t.diagnostic('shellcheck not installed (apt-get install shellcheck); syntax checked with bash -n only');
    return;
  }
  assert.equal(sc.status, 0, sc.stdout);
});
