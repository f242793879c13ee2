#!/usr/bin/env node
// Runs a single-input single-output ONNX model in ONNX Runtime (the peer nimble's ONNX import is
// checked against) on a float32 .npy input (NCHW, any batch) and writes its float32 output .npy.
// The .npy reader/writer is the project's own (tests/onnx/ort_common.js): v1.0 header, '<f4',
// C order; anything else is refused with one `error:` line and exit status 1.
//
//   export NODE_PATH=$(bash scripts/install-onnxruntime.sh | tail -1)   # or the default folder is found
//   node tests/onnx/ort_run.js MODEL.onnx INPUT.npy OUTPUT.npy [threads=2]
'use strict';
const { die, load_ort, read_npy, write_npy, positive_int, open_session } = require('./ort_common');

(async () => {
  const args = process.argv.slice(2);
  if (args.length < 3 || args.length > 4 || args.includes('--help') || args.includes('-h')) {
    process.stderr.write('usage: node ort_run.js MODEL.onnx INPUT.npy OUTPUT.npy [threads=2]\n');
    process.exit(args.includes('--help') || args.includes('-h') ? 0 : 2);
  }
  const [model, input_file, output_file, threads_arg = '2'] = args;
  const threads = positive_int('threads', threads_arg);
  let input;
  try {
    input = read_npy(input_file);
  } catch (e) {
    die(e.message);
  }
  const ort = load_ort();
  const session = await open_session(ort, model, threads);
  // ONNX Runtime checks the rank and fixed dims itself; its message names the input.
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
  let result;
  try {
    result = await session.run(feeds);
  } catch (e) {
    die(`${model} on ${input_file} (shape ${input.shape.join('x')}): ${e.message}`);
  }
  const out = result[session.outputNames[0]];
  if (out.type !== 'float32') die(`${model}: output is ${out.type}, not float32`);
  try {
    write_npy(output_file, out.dims, out.data);
  } catch (e) {
    die(`${output_file}: cannot write: ${e.message}`);
  }
})().catch((e) => die(e.message));
