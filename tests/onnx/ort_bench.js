#!/usr/bin/env node
// Median latency of a single-input ONNX model in ONNX Runtime (npm onnxruntime-node 1.30, CPU) on
// random float32 input of a given shape: the ONNX Runtime column of bench/onnx_peers.sh. The
// project's own copy of the pattern in the shared peers/ort_infer.js, so bench/ depends on
// nothing outside this repository. Prints one JSON object on stdout.
//
//   node tests/onnx/ort_bench.js MODEL.onnx 1,3,224,224 [threads=2] [runs=50]
'use strict';
const { die, load_ort, positive_int, open_session } = require('./ort_common');

(async () => {
  const args = process.argv.slice(2);
  if (args.length < 2 || args.length > 4 || args.includes('--help') || args.includes('-h')) {
    process.stderr.write('usage: node ort_bench.js MODEL.onnx SHAPE(e.g. 1,3,224,224) [threads=2] [runs=50]\n');
    process.exit(args.includes('--help') || args.includes('-h') ? 0 : 2);
  }
  const [model, shape_arg, threads_arg = '2', runs_arg = '50'] = args;
  const shape = shape_arg.split(/[,x]/).map((d) => positive_int('SHAPE dimension', d));
  const threads = positive_int('threads', threads_arg);
  const runs = positive_int('runs', runs_arg);
  const ort = load_ort();
  const session = await open_session(ort, model, threads);
  const n = shape.reduce((a, b) => a * b, 1);
  // Deterministic pseudo-random inputs (a linear congruential generator) roughly N(0, 1)-scaled:
  // the timing does not depend on the values, but a fixed input keeps runs comparable.
  let state = 12345;
  const data = Float32Array.from({ length: n }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state / 2 ** 32) * 4 - 2;
  });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  const warmup = Math.min(5, runs);
  try {
    for (let i = 0; i < warmup; i++) await session.run(feeds);
  } catch (e) {
    die(`${model} on shape ${shape.join('x')}: ${e.message}`);
  }
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    ts.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ts.sort((a, b) => a - b);
  const median = ts.length % 2 ? ts[ts.length >> 1] : (ts[ts.length / 2 - 1] + ts[ts.length / 2]) / 2;
  const round = (x) => +x.toFixed(3);
  console.log(JSON.stringify({
    peer: 'onnxruntime', version: ort.env.versions.node, model, shape, threads, runs, warmup,
    median_ms: round(median), min_ms: round(ts[0]), max_ms: round(ts[ts.length - 1]),
  }));
})().catch((e) => die(e.message));
