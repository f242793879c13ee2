// Shared by ort_run.js and ort_bench.js: loading ONNX Runtime (npm onnxruntime-node 1.30, CPU),
// one-line failures, and a minimal .npy reader/writer (format v1.0, '<f4', C order only).
// Nothing here is a dependency of nimble itself: ONNX Runtime is the peer tests and benchmarks
// compare against. Install it with scripts/install-onnxruntime.sh.
'use strict';
const fs = require('fs');
const path = require('path');

// One `error: ...` line on stderr and exit status 1, never a stack trace.
function die(message) {
  process.stderr.write(`error: ${String(message).split('\n')[0]}\n`);
  process.exit(1);
}

// onnxruntime-node from NODE_PATH, else from the folder scripts/install-onnxruntime.sh uses by
// default (build/_deps/onnxruntime of this checkout).
function load_ort() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
  }
  const fallback = path.join(__dirname, '..', '..', 'build', '_deps', 'onnxruntime', 'node_modules', 'onnxruntime-node');
  try {
    return require(fallback);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
  }
  die('onnxruntime-node not found: run `bash scripts/install-onnxruntime.sh` and set NODE_PATH to the folder it prints');
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// Reads a float32 .npy: { shape: [..], data: Float32Array }. Anything but v1.0, '<f4', C order
// throws an Error with a one-line message. The file is untrusted: the header is parsed strictly
// and the payload must be exactly the size the shape says.
function read_npy(file) {
  const bad = (why) => new Error(`${file}: ${why}`);
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw bad(`cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) throw bad('not a .npy file (no \\x93NUMPY magic)');
  if (buf[6] !== 1 || buf[7] !== 0) throw bad(`.npy format version ${buf[6]}.${buf[7]}; only 1.0 is supported`);
  const header_len = buf.readUInt16LE(8);
  if (10 + header_len > buf.length) throw bad(`header of ${header_len} bytes runs past the end of the file`);
  const header = buf.toString('latin1', 10, 10 + header_len).trim();
  const m = /^\{\s*'descr'\s*:\s*'([^']*)'\s*,\s*'fortran_order'\s*:\s*(True|False)\s*,\s*'shape'\s*:\s*\(([^)]*)\)\s*,?\s*\}$/.exec(header);
  if (!m) throw bad(`unrecognised .npy header ${JSON.stringify(header.slice(0, 80))}`);
  const [, descr, fortran, shape_text] = m;
  if (descr !== '<f4') throw bad(`dtype '${descr}'; only float32 ('<f4') is supported`);
  if (fortran === 'True') throw bad('Fortran (column-major) order; only C order is supported');
  const parts = shape_text.split(',').map((s) => s.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // "(5,)"
  const shape = parts[0] === '' && parts.length === 1 ? [] : parts.map((s) => {
    if (!/^\d+$/.test(s)) throw bad(`bad dimension '${s}' in shape (${shape_text})`);
    return Number(s);
  });
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * 4)) throw bad(`shape (${shape_text}) is too large`);
  const payload = buf.length - 10 - header_len;
  if (payload !== count * 4)
    throw bad(`shape (${shape.join(', ')}) needs ${count * 4} bytes of data, the file has ${payload}`);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw bad('this machine is big-endian; <f4 needs swapping');
  // Copied out: the payload offset need not be 4-byte aligned within the Buffer's memory.
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(buf.subarray(10 + header_len));
  return { shape, data };
}

// Writes a float32 .npy v1.0 atomically (a temporary file beside it, fsync, rename).
function write_npy(file, shape, data) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // numpy pads magic + version + length + header + '\n' to a multiple of 64 bytes.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  NPY_MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
  const body = Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, head);
    fs.writeSync(fd, Buffer.from(header, 'latin1'));
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

// A positive integer argument, or a one-line error naming it.
function positive_int(name, text) {
  if (!/^\d+$/.test(text) || Number(text) < 1) die(`${name} must be a positive integer, got '${text}'`);
  return Number(text);
}

// An ONNX Runtime session for a model with exactly one input and one output.
async function open_session(ort, model, threads) {
  if (!fs.existsSync(model)) die(`${model}: no such file`);
  let session;
  try {
    session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    die(`${model}: ONNX Runtime cannot load it: ${e.message}`);
  }
  if (session.inputNames.length !== 1 || session.outputNames.length !== 1)
    die(`${model}: has ${session.inputNames.length} inputs and ${session.outputNames.length} outputs; ` +
        'only single-input single-output models are supported');
  return session;
}

module.exports = { die, load_ort, read_npy, write_npy, positive_int, open_session };
