/**
 * HPACK for the net gRPC engine: RFC 7541 Appendix C's examples decode (the dynamic
 * table carried across blocks, Huffman, eviction), every malformed block is an
 * HpackError (never another exception, never a hang or an allocation sized by the
 * client), and our encoder's blocks round-trip through the decoder.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeHeaderBlock, HpackDecoder, HpackError } from '../../../../src/frontends/grpc/net/hpack.js';
import { HUFFMAN_CODES } from '../../../../src/frontends/grpc/net/huffman.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Decode one block, returning its fields as 'name: value' lines and the list size decode returned. */
function decode(d: HpackDecoder, block: Uint8Array, maxListSize?: number): { fields: string[]; size: number } {
  const fields: string[] = [];
  const size = d.decode(block, 0, block.length, (n, v) => fields.push(`${n}: ${v}`), maxListSize);
  return { fields, size };
}

/** An HPACK integer (RFC 7541 5.1) with a prefixBits prefix under the `first` bits. */
function int(v: number, prefixBits: number, first = 0): number[] {
  const max = 2 ** prefixBits - 1;
  if (v < max) return [first | v];
  const out = [first | max];
  for (v -= max; v >= 0x80; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
  out.push(v);
  return out;
}

/** A raw (not Huffman) string literal. */
function str(s: string): number[] {
  return [...int(s.length, 7), ...Buffer.from(s, 'latin1')];
}

/** Huffman-code a latin1 string with the table's codes, padding with ones. */
function huffman(s: string): number[] {
  let bits = '';
  for (const c of Buffer.from(s, 'latin1')) bits += HUFFMAN_CODES[c][0].toString(2).padStart(HUFFMAN_CODES[c][1], '0');
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  return Array.from({ length: bits.length / 8 }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8), 2));
}

/** A seeded generator of integers in [0, n) (xorshift32: every bit varies, unlike a small LCG's low bits). */
function random(seed: number): (n: number) => number {
  let x = seed | 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function rejects(d: HpackDecoder, block: number[] | Buffer, message: RegExp): void {
  const b = Buffer.from(block);
  assert.throws(() => d.decode(b, 0, b.length, () => {}), (e: unknown) => e instanceof HpackError && message.test(e.message));
}

describe('HpackDecoder: RFC 7541 Appendix C', () => {
  it('C.2: one field of each representation', () => {
    const d = new HpackDecoder();
    assert.deepEqual(decode(d, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).fields, ['custom-key: custom-header']);
    assert.equal(d.tableSize, 55);
    assert.deepEqual(decode(new HpackDecoder(), hex('040c 2f73 616d 706c 652f 7061 7468')).fields, [':path: /sample/path']);
    const never = new HpackDecoder();
    assert.deepEqual(decode(never, hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).fields, ['password: secret']);
    assert.equal(never.tableEntries, 0);
    assert.deepEqual(decode(new HpackDecoder(), hex('82')), { fields: [':method: GET'], size: 42 });
  });

  const requests = [
    [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com'],
    [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com', 'cache-control: no-cache'],
    [':method: GET', ':scheme: https', ':path: /index.html', ':authority: www.example.com', 'custom-key: custom-value'],
  ];
  const requestTables: [number, number][] = [[1, 57], [2, 110], [3, 164]];

  for (const [section, blocks] of [
    ['C.3: three requests without Huffman', [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ]],
    ['C.4: the same requests with Huffman', [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ]],
  ] as const) {
    it(`${section}, one decoder so the dynamic table carries over`, () => {
      const d = new HpackDecoder();
      blocks.forEach((b, i) => {
        const { fields, size } = decode(d, hex(b));
        assert.deepEqual(fields, requests[i]);
        assert.equal(size, fields.reduce((s, f) => s + f.length - 2 + 32, 0));
        assert.deepEqual([d.tableEntries, d.tableSize], requestTables[i]);
      });
    });
  }

  const responses = [
    [':status: 302', 'cache-control: private', 'date: Mon, 21 Oct 2013 20:13:21 GMT', 'location: https://www.example.com'],
    [':status: 307', 'cache-control: private', 'date: Mon, 21 Oct 2013 20:13:21 GMT', 'location: https://www.example.com'],
    [':status: 200', 'cache-control: private', 'date: Mon, 21 Oct 2013 20:13:22 GMT', 'location: https://www.example.com',
      'content-encoding: gzip', 'set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
  ];
  const responseTables: [number, number][] = [[4, 222], [4, 222], [3, 215]];

  for (const [section, blocks] of [
    ['C.5: three responses without Huffman', [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ]],
    ['C.6: the same responses with Huffman', [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ]],
  ] as const) {
    it(`${section}, evicting in a 256-octet table`, () => {
      const d = new HpackDecoder(256);
      blocks.forEach((b, i) => {
        assert.deepEqual(decode(d, hex(b)).fields, responses[i]);
        assert.deepEqual([d.tableEntries, d.tableSize], responseTables[i]);
      });
      // After C.x.3 the newest entry is set-cookie and the oldest left is the date.
      assert.deepEqual(decode(d, Buffer.from([0xbe, 0xc0])).fields, [responses[2][5], responses[2][2]]);
    });
  }

  it('decodes a block inside a larger buffer and from a plain Uint8Array', () => {
    const block = hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff');
    const framed = new Uint8Array(block.length + 20);
    framed.set(block, 9);
    const got: string[] = [];
    new HpackDecoder().decode(framed, 9, 9 + block.length, (n, v) => got.push(`${n}: ${v}`));
    assert.deepEqual(got, requests[0]);
  });
});

describe('HpackDecoder: Huffman', () => {
  it('decodes every octet 0..255, one at a time and all together', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    for (const s of [...all, all, all.repeat(3)]) {
      const d = new HpackDecoder();
      const block = [0x00, ...str('x'), ...int(huffman(s).length, 7, 0x80), ...huffman(s)];
      assert.deepEqual(decode(d, Buffer.from(block)).fields, [`x: ${s}`]);
    }
  });

  it('matches codes from RFC 7541 Appendix B', () => {
    assert.deepEqual(HUFFMAN_CODES[0], [0x1ff8, 13]);
    assert.deepEqual(HUFFMAN_CODES[0x30], [0x0, 5]); // '0'
    assert.deepEqual(HUFFMAN_CODES[0x61], [0x3, 5]); // 'a'
    assert.deepEqual(HUFFMAN_CODES[10], [0x3ffffffc, 30]);
    assert.deepEqual(HUFFMAN_CODES[0xff], [0x3ffffee, 26]);
    assert.deepEqual(HUFFMAN_CODES[256], [0x3fffffff, 30]); // EOS
  });

  it('rejects EOS in a string, padding over 7 bits, and padding that is not all ones (5.2)', () => {
    const value = (bytes: number[]): number[] => [0x00, ...str('x'), 0x80 | bytes.length, ...bytes];
    assert.deepEqual(decode(new HpackDecoder(), Buffer.from(value([0x1f]))).fields, ['x: a']); // 'a' 00011 + 111
    assert.deepEqual(decode(new HpackDecoder(), Buffer.from(value([]))).fields, ['x: ']);
    rejects(new HpackDecoder(), value([0xff, 0xff, 0xff, 0xff]), /EOS/);
    rejects(new HpackDecoder(), value([0x1f, 0xff, 0xff, 0xff, 0xff]), /EOS/);
    rejects(new HpackDecoder(), value([0x1f, 0xff]), /longer than 7 bits/);
    rejects(new HpackDecoder(), value([0xff]), /longer than 7 bits/);
    rejects(new HpackDecoder(), value([0x18]), /not all ones/); // 'a' then 000
    rejects(new HpackDecoder(), value([0x1e]), /not all ones/); // 'a' then 110
  });
});

describe('HpackDecoder: malformed blocks are HpackErrors', () => {
  it('truncated integers', () => {
    rejects(new HpackDecoder(), [0xff], /truncated integer/);
    rejects(new HpackDecoder(), [0xff, 0x80], /truncated integer/);
    rejects(new HpackDecoder(), [0x3f, 0xe1], /truncated integer/);
  });

  it('integers past 2^31 - 1 or with too many continuation octets, before precision is lost', () => {
    rejects(new HpackDecoder(), [0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], /over 2\^31/);
    rejects(new HpackDecoder(), int(2 ** 31, 7, 0x80), /over 2\^31/);
    rejects(new HpackDecoder(), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /over 2\^31/);
    rejects(new HpackDecoder(), [0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], /too many continuation/);
    rejects(new HpackDecoder(), [0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80], /too many continuation/);
    // 2^31 - 1 itself is an integer; here it is a string length past the block end.
    rejects(new HpackDecoder(), [0x00, ...int(2 ** 31 - 1, 7)], /past the block end/);
  });

  it('strings past the block end, without allocating the claimed length', () => {
    rejects(new HpackDecoder(), [0x00, 0x05, 0x61, 0x62], /past the block end/);
    rejects(new HpackDecoder(), [0x00, ...str('x'), 0x83, 0x1f], /past the block end/);
    rejects(new HpackDecoder(), [0x40], /string missing/);
    rejects(new HpackDecoder(), [0x00, ...str('x')], /string missing/);
    rejects(new HpackDecoder(), [0x0f, 0x10], /string missing/);
    // A Huffman length of 2^31 - 1: a buffer sized from it (3.4 GB) would throw a RangeError or take seconds.
    rejects(new HpackDecoder(), [0x00, ...str('x'), ...int(2 ** 31 - 1, 7, 0x80), 0x1f], /past the block end/);
    rejects(new HpackDecoder(), [0x00, 0xff, 0xff, 0xff, 0xff, 0x07], /past the block end/);
  });

  it('index 0 and indices past the static and dynamic tables', () => {
    rejects(new HpackDecoder(), [0x80], /index 0/);
    rejects(new HpackDecoder(), [0xbe], /index 62 past the table \(61 static \+ 0 dynamic\)/);
    rejects(new HpackDecoder(), [0x7e, ...str('v')], /index 62 past/); // literal with an indexed name
    rejects(new HpackDecoder(), [0x0f, 0x2f, ...str('v')], /index 62 past/);
    const d = new HpackDecoder();
    assert.deepEqual(decode(d, Buffer.from([0x40, ...str('k'), ...str('v'), 0xbe])).fields, ['k: v', 'k: v']);
    assert.deepEqual(decode(d, Buffer.from([0xbd])).fields, ['www-authenticate: ']);
    rejects(d, [0xbf], /index 63 past the table \(61 static \+ 1 dynamic\)/);
    rejects(new HpackDecoder(), int(2 ** 31 - 1, 7, 0x80), /index 2147483647 past/);
  });

  it('dynamic table size updates: at most what we advertised, only at the start of a block, two at most', () => {
    rejects(new HpackDecoder(), [0x3f, 0xe2, 0x1f], /update to 4097, over the 4096/);
    rejects(new HpackDecoder(256), [0x3f, ...int(257, 5).slice(1)], /update to 257, over the 256/);
    rejects(new HpackDecoder(), [0x82, 0x20], /after a header field/);
    rejects(new HpackDecoder(), [0x82, 0x3f, 0xe1, 0x1f, 0x82], /after a header field/);
    rejects(new HpackDecoder(), [0x20, 0x20, 0x20, 0x82], /more than two/);
    const d = new HpackDecoder();
    assert.deepEqual(decode(d, Buffer.from([0x3f, 0xe1, 0x1f, 0x82])).fields, [':method: GET']); // exactly 4096
    // Shrink to 0 (emptying the table) then back to 4096, at the start of a later block.
    assert.deepEqual(decode(d, Buffer.from([0x40, ...str('k'), ...str('v'), 0xbe])).fields, ['k: v', 'k: v']);
    assert.deepEqual(decode(d, Buffer.from([0x20, 0x3f, 0xe1, 0x1f, 0x82])).fields, [':method: GET']);
    assert.equal(d.tableEntries, 0);
    rejects(d, [0xbe], /index 62 past/);
    // A smaller table evicts the oldest entries until the rest fit.
    const e = new HpackDecoder();
    decode(e, Buffer.from([0x40, ...str('a'), ...str('1'), 0x40, ...str('b'), ...str('2')]));
    assert.deepEqual([e.tableEntries, e.tableSize], [2, 68]);
    assert.deepEqual(decode(e, Buffer.from([0x3f, ...int(40, 5).slice(1), 0xbe])).fields, ['b: 2']);
    assert.deepEqual([e.tableEntries, e.tableSize], [1, 34]);
    // An entry larger than the new size is not kept.
    assert.deepEqual(decode(e, Buffer.from([0x40, ...str('name'), ...str('value')])).fields, ['name: value']);
    assert.deepEqual([e.tableEntries, e.tableSize], [0, 0]);
  });

  it('an entry larger than the table empties it and is not kept (4.4)', () => {
    const d = new HpackDecoder(100);
    decode(d, Buffer.from([0x40, ...str('a'), ...str('1'), 0x40, ...str('b'), ...str('2')]));
    assert.deepEqual([d.tableEntries, d.tableSize], [2, 68]);
    // 34 + 34 + 34 > 100: the oldest goes.
    decode(d, Buffer.from([0x40, ...str('c'), ...str('3')]));
    assert.deepEqual(decode(d, Buffer.from([0xbe, 0xbf])).fields, ['c: 3', 'b: 2']);
    const big = 'x'.repeat(100 - 32); // 1 + 68 + 32 = 101 octets
    assert.deepEqual(decode(d, Buffer.from([0x40, ...str('y'), ...str(big)])).fields, [`y: ${big}`]);
    assert.deepEqual([d.tableEntries, d.tableSize], [0, 0]);
    rejects(d, [0xbe], /index 62 past/);
    // One that fits exactly is kept.
    decode(d, Buffer.from([0x40, ...str('y'), ...str(big.slice(1))]));
    assert.deepEqual([d.tableEntries, d.tableSize], [1, 100]);
  });

  it('a huge header list: the whole block is decoded (the table stays in step) but sink stops at maxListSize', () => {
    const d = new HpackDecoder();
    const v = 'v'.repeat(100);
    const block: number[] = [];
    for (let i = 0; i < 50; i++) block.push(0x40, ...str(`k${i}`), ...str(v)); // 50 fields of 2-3 + 100 + 32
    block.push(0x82);
    const { fields, size } = decode(d, Buffer.from(block), 1000);
    const each = (i: number): number => `k${i}`.length + 100 + 32;
    let total = 42;
    for (let i = 0; i < 50; i++) total += each(i);
    assert.equal(size, total);
    assert.equal(fields.length, 7); // 7 * 134 = 938 <= 1000 < 8 * 134
    assert.deepEqual(fields.slice(0, 2), [`k0: ${v}`, `k1: ${v}`]);
    // Every entry went into the table: the next block indexes the last one inserted and the oldest left.
    assert.equal(d.tableEntries, Math.floor(4096 / 135));
    assert.deepEqual(decode(d, Buffer.from([0xbe])).fields, [`k49: ${v}`]);
    assert.deepEqual(decode(d, Buffer.from(int(61 + d.tableEntries, 7, 0x80))).fields, [`k${50 - d.tableEntries}: ${v}`]);
    // No limit: every field; a limit of 0: none, same size.
    assert.equal(decode(new HpackDecoder(), Buffer.from(block)).fields.length, 51);
    assert.deepEqual(decode(new HpackDecoder(), Buffer.from(block), 0), { fields: [], size: total });
  });

  it('random and mutated blocks end in a result or an HpackError, never another exception', () => {
    const rand = random(12345);
    const valid = [
      hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'),
      hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'),
    ];
    let ok = 0;
    let bad = 0;
    const d = new HpackDecoder(256);
    for (let i = 0; i < 5000; i++) {
      let b: Buffer;
      if (i % 2 === 0) {
        b = Buffer.from(Array.from({ length: rand(40) }, () => rand(256)));
      } else {
        b = Buffer.from(valid[rand(valid.length)]);
        for (let k = rand(3) + 1; k > 0; k--) b[rand(b.length)] = rand(256);
        b = b.subarray(0, b.length - rand(3));
      }
      try {
        // The shared decoder goes on after errors: out of step with any peer then, but it may still only throw HpackError.
        decode(i % 7 === 0 ? new HpackDecoder() : d, b);
        ok++;
      } catch (e) {
        if (!(e instanceof HpackError)) throw e;
        bad++;
      }
    }
    assert.ok(ok > 100 && bad > 1000, `${ok} decoded, ${bad} rejected`);
  });

  it('the ring-buffer table matches a plain list through growth, wrap-around and eviction', () => {
    const rand = random(99);
    const limit = 2000;
    const d = new HpackDecoder(limit);
    const model: [string, string][] = []; // newest first
    let max = limit;
    let grew = 0;
    const modelSize = (): number => model.reduce((s, [n, v]) => s + n.length + v.length + 32, 0);
    const insert = (n: string, v: string): void => {
      model.unshift([n, v]);
      while (modelSize() > max) model.pop();
    };
    for (let round = 0; round < 400; round++) {
      const block: number[] = [];
      const want: string[] = [];
      if (rand(10) === 0) {
        max = rand(limit + 1);
        block.push(...int(max, 5, 0x20));
        while (modelSize() > max) model.pop();
      }
      for (let f = rand(8); f > 0; f--) {
        if (model.length > 0 && rand(2) === 0) {
          const k = rand(model.length);
          block.push(...int(62 + k, 7, 0x80));
          want.push(`${model[k][0]}: ${model[k][1]}`);
        } else {
          const n = `n${round}.${f}`;
          const v = rand(4) === 0 ? 'v'.repeat(rand(300)) : '';
          block.push(0x40, ...str(n), ...str(v));
          want.push(`${n}: ${v}`);
          insert(n, v);
        }
      }
      assert.deepEqual(decode(d, Buffer.from(block)).fields, want, `round ${round}`);
      assert.deepEqual([d.tableEntries, d.tableSize], [model.length, modelSize()], `round ${round}`);
      grew = Math.max(grew, model.length);
    }
    assert.ok(grew > 32, `at most ${grew} entries: the ring never grew twice`);
  });
});

describe('encodeHeaderBlock', () => {
  const roundTrip = (headers: [string, string][]): Buffer => {
    const block = encodeHeaderBlock(headers);
    const d = new HpackDecoder();
    assert.deepEqual(decode(d, block).fields, headers.map(([n, v]) => `${n}: ${v}`));
    assert.equal(d.tableEntries, 0); // never touches the peer's table
    return block;
  };

  it('full static matches are one octet; static names are indexed; other names are literal', () => {
    assert.deepEqual(roundTrip([[':status', '200']]), Buffer.from([0x88]));
    assert.deepEqual(roundTrip([[':method', 'POST'], [':scheme', 'http'], ['accept-encoding', 'gzip, deflate']]), Buffer.from([0x83, 0x86, 0x90]));
    assert.deepEqual(roundTrip([['content-type', 'application/grpc']]), Buffer.from([0x0f, 0x10, 0x10, ...Buffer.from('application/grpc')]));
    assert.deepEqual(roundTrip([[':path', '/a']]), Buffer.from([0x04, 0x02, 0x2f, 0x61]));
    assert.deepEqual(roundTrip([['grpc-status', '0']]), Buffer.from([0x00, 0x0b, ...Buffer.from('grpc-status'), 0x01, 0x30]));
    // A static name with an empty value matches its entry in full.
    assert.deepEqual(roundTrip([['content-type', '']]), Buffer.from([0x9f]));
    assert.deepEqual(roundTrip([['x-empty', '']]), Buffer.from([0x00, 0x07, ...Buffer.from('x-empty'), 0x00]));
  });

  it('round-trips long values (multi-octet lengths) and a typical gRPC request and response', () => {
    for (const len of [126, 127, 128, 255, 16383, 16384, 100_000]) {
      const v = 'abc'.repeat(len).slice(0, len);
      const block = roundTrip([['x-long', v], [':authority', v], ['te', 'trailers']]);
      assert.ok(block.length < 2 * len + 40);
    }
    assert.deepEqual(encodeHeaderBlock([[':status', '200'], ['content-length', '12345']]).subarray(0, 2), Buffer.from([0x88, 0x0f]));
    roundTrip([[':method', 'POST'], [':scheme', 'http'], [':path', '/inference.GRPCInferenceService/ModelInfer'],
      [':authority', '127.0.0.1:8001'], ['content-type', 'application/grpc'], ['te', 'trailers'], ['grpc-timeout', '5S'],
      ['user-agent', 'grpc-node-js/1.14.7'], ['grpc-accept-encoding', 'identity,deflate,gzip']]);
    roundTrip([['grpc-status', '3'], ['grpc-message', 'model%20%22x%22%20not%20found'], ['x-latin1', 'caf\u00e9 \u00ff\u0000']]);
    assert.deepEqual(encodeHeaderBlock([]), Buffer.alloc(0));
  });

  it('refuses text that is not latin1 instead of mangling it', () => {
    assert.throws(() => encodeHeaderBlock([['grpc-message', 'caf\u0100']]), RangeError);
    assert.throws(() => encodeHeaderBlock([['x-\u20ac', 'v']]), RangeError);
  });
});
