import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRequest, encodeResponse, FramingError, FramingErrorCode, MAX_ENV_BYTES, RequestDecoder, ResponseDecoder, TAG_ACCEPTED, type CniRequest } from '../../src/cni/framing.ts';

const sample: CniRequest = { env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_ARGS: 'K8S_POD_NAME=a=b' }, stdin: '{"cniVersion":"1.1.0","name":"ü"}' };

function decodeAll(bytes: Buffer, chunk: number) {
  const d = new RequestDecoder();
  let out: CniRequest | undefined;
  for (let i = 0; i < bytes.length; i += chunk) {
    const r = d.push(bytes.subarray(i, i + chunk));
    if (r) out = r;
  }
  return out;
}

describe('request framing', () => {
  it('encodes the layout the shim writes: magic, env length, NUL-terminated entries, stdin length, stdin', () => {
    const b = encodeRequest({ env: { CNI_COMMAND: 'DEL' }, stdin: '{}' });
    expect(b.toString('hex')).toBe(Buffer.concat([Buffer.from('TCN1'), Buffer.from([16, 0, 0, 0]), Buffer.from('CNI_COMMAND=DEL\0'), Buffer.from([2, 0, 0, 0]), Buffer.from('{}')]).toString('hex'));
  });

  it('decodes what it encodes, whole or a byte at a time (values may contain =, UTF-8 survives)', () => {
    const bytes = encodeRequest(sample);
    expect(decodeAll(bytes, bytes.length)).toEqual(sample);
    expect(decodeAll(bytes, 1)).toEqual(sample);
  });

  it('round-trips any CNI_* environment and stdin (property)', () => {
    const name = fc.stringMatching(/^CNI_[A-Z_]{1,12}$/);
    const value = fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.dictionary(name, value), fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 64 }), (env, stdin, chunk) => {
        expect(decodeAll(encodeRequest({ env, stdin }), chunk)).toEqual({ env, stdin });
      }),
    );
  });

  it('waits for more bytes while the request is incomplete', () => {
    const bytes = encodeRequest(sample);
    const d = new RequestDecoder();
    expect(d.push(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    expect(d.pending).toBe(bytes.length - 1);
    expect(d.push(bytes.subarray(bytes.length - 1))).toEqual(sample);
  });

  const refuses = (bytes: Buffer, code: string) => {
    let err: unknown;
    try {
      new RequestDecoder().push(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FramingError);
    expect((err as FramingError).code).toBe(code);
  };

  it('refuses a stream that does not start with the magic, from the first wrong byte', () => {
    refuses(Buffer.from('GET / HTTP/1.1\r\n'), FramingErrorCode.BadMagic);
    refuses(Buffer.from('TX'), FramingErrorCode.BadMagic);
  });

  it('refuses oversized lengths before buffering them', () => {
    const b = Buffer.concat([Buffer.from('TCN1'), Buffer.alloc(4)]);
    b.writeUInt32LE(MAX_ENV_BYTES + 1, 4);
    refuses(b, FramingErrorCode.TooLarge);
    const s = Buffer.concat([Buffer.from('TCN1'), Buffer.from([0, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    refuses(s, FramingErrorCode.TooLarge);
  });

  it('refuses environment entries that are not CNI_* NAME=VALUE, and bytes after the request', () => {
    const withEnv = (env: string) => Buffer.concat([Buffer.from('TCN1'), Buffer.from([env.length, 0, 0, 0]), Buffer.from(env), Buffer.from([0, 0, 0, 0])]);
    refuses(withEnv('LD_PRELOAD=/x.so\0'), FramingErrorCode.BadEnv);
    refuses(withEnv('CNI_COMMAND\0'), FramingErrorCode.BadEnv);
    refuses(withEnv('CNI_COMMAND=ADD'), FramingErrorCode.BadEnv);
    refuses(Buffer.concat([encodeRequest(sample), Buffer.from('x')]), FramingErrorCode.BadMagic);
  });
});

describe('response framing', () => {
  it('decodes the accept byte and then the result, whole or split', () => {
    const res = { exitCode: 1, stdout: '{"code":6}\n', stderr: 'tortie-cni error: é\n' };
    const bytes = Buffer.concat([Buffer.from([TAG_ACCEPTED]), encodeResponse(res)]);
    expect(new ResponseDecoder().push(bytes)).toEqual(res);
    const d = new ResponseDecoder();
    let out;
    for (const byte of bytes) out = d.push(Buffer.from([byte])) ?? out;
    expect(d.accepted).toBe(true);
    expect(out).toEqual(res);
  });
});
