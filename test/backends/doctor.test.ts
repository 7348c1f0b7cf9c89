import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDoctor, formatDoctorReport, doctorExitCode, type DoctorReport } from '../../src/runtime/doctor.js';
import { isTfjsNodeGpuInstalled, probeCuda } from '../../src/runtime/backends.js';

process.env['XDG_RUNTIME_DIR'] ??= '/tmp';

let report: DoctorReport;

test('doctor probes each backend in a child process and compares a matmul with cpu', { timeout: 180_000 }, async () => {
  report = await runDoctor({ backends: ['tensorflow', 'webgpu', 'cpu'] });
  assert.match(report.node.version, /^v\d+/);
  assert.deepEqual(report.backends.map((b) => b.name), ['tensorflow', 'webgpu', 'cpu']);
  const byName = Object.fromEntries(report.backends.map((b) => [b.name, b]));
  assert.equal(byName['cpu']!.ok, true, byName['cpu']!.detail);
  assert.equal(byName['cpu']!.matmul?.maxAbsDiff, 0);
  assert.equal(byName['webgpu']!.ok, true, byName['webgpu']!.detail);
  assert.equal(byName['webgpu']!.matmul?.reference, 'cpu');
  assert.ok(byName['webgpu']!.matmul!.ok, `webgpu matmul |Δ| ${byName['webgpu']!.matmul!.maxAbsDiff}`);
  assert.ok(report.dawn.ok && report.dawn.adapter, 'Dawn adapter reported');
  assert.ok(report.dawn.adapter.features.length > 0);
  assert.equal(report.ok, true);
  assert.equal(doctorExitCode(report), 0);
  if (!(isTfjsNodeGpuInstalled() && probeCuda().deviceVisible)) {
    assert.equal(byName['tensorflow']!.ok, false);
    assert.match(byName['tensorflow']!.detail, /not installed|no CUDA device/);
    assert.equal(report.auto.backend, 'webgpu');
    assert.match(report.auto.reasons.tensorflow, /^failed: /);
    assert.match(report.auto.reasons.cpu, /^not tried/);
  }
  assert.equal(report.cuda.tfjsNodeGpuInstalled, isTfjsNodeGpuInstalled());
  assert.ok(Array.isArray(report.cuda.libcudnn));
  assert.equal(typeof report.cuda.tfjsNodeGpuLibraries.cudnn8, 'boolean');
});

test('the human report names every backend, the auto choice and the adapter', () => {
  const text = formatDoctorReport(report);
  for (const name of ['tensorflow', 'webgpu', 'cpu']) assert.match(text, new RegExp(`^${name}\\s+(works|fails)`, 'm'));
  assert.match(text, new RegExp(`auto would choose: ${report.auto.backend}`));
  assert.match(text, new RegExp(`vendor ${report.dawn.adapter!.vendor}`));
  assert.match(text, /CUDA for tfjs-node-gpu:/);
  assert.match(text, /ok: at least one backend works/);
});

test('exit code: 1 when nothing works, and with --require-gpu on a software adapter only', () => {
  const none: DoctorReport = { ...report, backends: report.backends.map((b) => ({ ...b, ok: false })), ok: false };
  assert.equal(doctorExitCode(none), 1);
  const softwareOnly: DoctorReport = {
    ...report,
    backends: report.backends.map((b) => ({ ...b, ok: b.name !== 'tensorflow' })),
    dawn: { ok: true, adapter: { ...report.dawn.adapter!, software: true } },
  };
  assert.equal(doctorExitCode(softwareOnly, { requireGpu: true }), 1);
  assert.equal(doctorExitCode({ ...softwareOnly, dawn: { ok: true, adapter: { ...report.dawn.adapter!, software: false } } }, { requireGpu: true }), 0);
});
