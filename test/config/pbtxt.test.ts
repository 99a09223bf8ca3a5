import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ConfigParseError, parsePbtxt, type PbMessage, type PbValue } from '../../src/config/pbtxt.js';
import { OspreyError } from '../../src/errors/errors.js';

/** The tree without positions, for compact assertions. */
function plain(v: PbValue): unknown {
  if (v.kind === 'message') return v.fields.map((f) => [f.name, plain(f.value)]);
  if (v.kind === 'list') return { list: v.items.map(plain) };
  return { [v.kind]: v.value };
}

const parse = (text: string): unknown => plain(parsePbtxt(text, 'c.pbtxt'));

function parseError(text: string, message: string): void {
  assert.throws(() => parsePbtxt(text, '/path/config.pbtxt'), (err: unknown) => {
    assert.ok(err instanceof ConfigParseError);
    assert.ok(err instanceof OspreyError);
    assert.equal(err.code, 'INVALID_ARG');
    assert.equal(err.message, message);
    return true;
  });
}

test('scalars: strings, ints, floats, identifiers', () => {
  assert.deepEqual(parse('a: "x" b: 12 c: 1.5 d: TYPE_FP32 e: true'), [
    ['a', { string: 'x' }], ['b', { int: 12n }], ['c', { float: 1.5 }],
    ['d', { ident: 'TYPE_FP32' }], ['e', { ident: 'true' }],
  ]);
});

test('numbers: negative, hex, octal, float forms', () => {
  assert.deepEqual(parse('a: -1 b: 0x1F c: 0X10 d: 017 e: - 3 f: 0'), [
    ['a', { int: -1n }], ['b', { int: 31n }], ['c', { int: 16n }], ['d', { int: 15n }],
    ['e', { int: -3n }], ['f', { int: 0n }],
  ]);
  assert.deepEqual(parse('a: .5 b: 1e3 c: 2.5E-1 d: 2.0f e: -1.25 f: 3. g: 1e+2'), [
    ['a', { float: 0.5 }], ['b', { float: 1000 }], ['c', { float: 0.25 }], ['d', { float: 2 }],
    ['e', { float: -1.25 }], ['f', { float: 3 }], ['g', { float: 100 }],
  ]);
  assert.deepEqual(parse('a: -inf b: -nan c: inf'), [
    ['a', { float: -Infinity }], ['b', { float: NaN }], ['c', { ident: 'inf' }],
  ]);
  // 64-bit values stay exact
  assert.deepEqual(parse('a: 18446744073709551615'), [['a', { int: 18446744073709551615n }]]);
});

test('strings: both quotes, escapes, concatenation, UTF-8', () => {
  assert.deepEqual(parse(String.raw`a: 'it''s' b: "say \"hi\"" c: 'x\'y'`), [
    ['a', { string: 'its' }], ['b', { string: 'say "hi"' }], ['c', { string: "x'y" }],
  ]);
  assert.deepEqual(parse(String.raw`a: "\n\t\r\\\a\b\f\v\?"`), [['a', { string: '\n\t\r\\\x07\b\f\v?' }]]);
  assert.deepEqual(parse(String.raw`a: "\101\x42\u00e9\U0001F600"`), [['a', { string: 'ABé😀' }]]);
  // octal/hex escapes are bytes: \303\251 is UTF-8 for é
  assert.deepEqual(parse(String.raw`a: "\303\251"`), [['a', { string: 'é' }]]);
  assert.deepEqual(parse(`a: "ab" 'cd' "ef"`), [['a', { string: 'abcdef' }]]);
  assert.deepEqual(parse('a: "é 漢"'), [['a', { string: 'é 漢' }]]);
  assert.deepEqual(parse('a: "# not a comment"'), [['a', { string: '# not a comment' }]]);
});

test('messages: braces, angle brackets, optional colon', () => {
  const expected = [['m', [['x', { int: 1n }]]]];
  assert.deepEqual(parse('m { x: 1 }'), expected);
  assert.deepEqual(parse('m: { x: 1 }'), expected);
  assert.deepEqual(parse('m < x: 1 >'), expected);
  assert.deepEqual(parse('m: < x: 1 >'), expected);
  assert.deepEqual(parse('m {}'), [['m', []]]);
  assert.deepEqual(parse('m { n { o { p: "deep" } } }'), [['m', [['n', [['o', [['p', { string: 'deep' }]]]]]]]]);
});

test('lists of scalars and of messages; repetition', () => {
  assert.deepEqual(parse('dims: [ 1, -1, 3 ]'), [['dims', { list: [{ int: 1n }, { int: -1n }, { int: 3n }] }]]);
  assert.deepEqual(parse('dims: []'), [['dims', { list: [] }]]);
  assert.deepEqual(parse('input [ { a: 1 }, { a: 2 } ]'), [['input', { list: [[['a', { int: 1n }]], [['a', { int: 2n }]]] }]]);
  assert.deepEqual(parse('input: [ < a: 1 > ]'), [['input', { list: [[['a', { int: 1n }]]] }]]);
  assert.deepEqual(parse('d: 1 d: 2'), [['d', { int: 1n }], ['d', { int: 2n }]]);
});

test('separators, comments and whitespace', () => {
  assert.deepEqual(parse('a: 1, b: 2; c: 3\n# comment\n\td: 4 # trailing\r\n'), [
    ['a', { int: 1n }], ['b', { int: 2n }], ['c', { int: 3n }], ['d', { int: 4n }],
  ]);
  assert.deepEqual(parse('m { a: 1; b: 2, }'), [['m', [['a', { int: 1n }], ['b', { int: 2n }]]]]);
  assert.deepEqual(parse(''), []);
  assert.deepEqual(parse('# only a comment'), []);
});

test('map fields are repeated key/value entries', () => {
  assert.deepEqual(parse('parameters { key: "k" value: { string_value: "v" } } parameters [ { key: "k2" value { string_value: "w" } } ]'), [
    ['parameters', [['key', { string: 'k' }], ['value', [['string_value', { string: 'v' }]]]]],
    ['parameters', { list: [[['key', { string: 'k2' }], ['value', [['string_value', { string: 'w' }]]]]] }],
  ]);
});

test('positions are 1-based line and column of the field name / value', () => {
  const root: PbMessage = parsePbtxt('a: 1\n  m {\n    b: "x"\n  }', 'f');
  const [a, m] = root.fields;
  assert.deepEqual([a!.line, a!.col], [1, 1]);
  assert.deepEqual([m!.line, m!.col], [2, 3]);
  const b = (m!.value as PbMessage).fields[0]!;
  assert.deepEqual([b.line, b.col, b.value.line, b.value.col], [3, 5, 3, 8]);
});

test('errors name file, line and column', () => {
  parseError('name: "x"\ninput [\n  { name: "a" dims: }\n]', "/path/config.pbtxt:3:21: expected a value after ':', found '}'");
  parseError('a: ', "/path/config.pbtxt:1:4: expected a value after ':', found end of input");
  parseError('a 1', "/path/config.pbtxt:1:3: expected ':' or '{' after field name 'a', found '1'");
  parseError('m {\n a: 1\n', "/path/config.pbtxt:3:1: expected '}' to close the message opened at 1:3");
  parseError('m < a: 1 }', "/path/config.pbtxt:1:10: expected a field name, found '}'");
  parseError('}', "/path/config.pbtxt:1:1: expected a field name, found '}'");
  parseError('a: "abc', '/path/config.pbtxt:1:4: unterminated string');
  parseError('a: "ab\ncd"', '/path/config.pbtxt:1:4: unterminated string');
  parseError(String.raw`a: "x\qy"`, String.raw`/path/config.pbtxt:1:6: invalid escape '\q' in string`);
  parseError(String.raw`a: "\xZZ"`, String.raw`/path/config.pbtxt:1:5: invalid escape '\x' in string: expected hex digits`);
  parseError(String.raw`a: "\777"`, String.raw`/path/config.pbtxt:1:5: invalid escape '\777' in string`);
  parseError('a: 12abc', "/path/config.pbtxt:1:4: invalid number '12abc'");
  parseError('a: 08', "/path/config.pbtxt:1:4: invalid number '08'");
  parseError('a: 0xZ', "/path/config.pbtxt:1:4: invalid number '0xZ'");
  parseError('a: -b', "/path/config.pbtxt:1:5: expected a number after '-', found 'b'");
  parseError('a: [1, 2', "/path/config.pbtxt:1:9: expected ']' to close the list opened at 1:4");
  parseError('a: [1 2]', "/path/config.pbtxt:1:7: expected ',' or ']' in a list, found '2'");
  parseError('a: [1,]', "/path/config.pbtxt:1:7: expected a value in the list, found ']'");
  parseError('a [1]', "/path/config.pbtxt:1:4: expected a message in a list given without ':', found '1'");
  parseError('a: @', "/path/config.pbtxt:1:4: unexpected character '@'");
  parseError('a: 1\n\n   b: $', "/path/config.pbtxt:3:7: unexpected character '$'");
});

test('default file name in messages', () => {
  assert.throws(() => parsePbtxt('a:'), { message: "<config>:1:3: expected a value after ':', found end of input" });
});
