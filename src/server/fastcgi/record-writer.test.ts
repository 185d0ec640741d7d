import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cgiHead } from './cgi-head.js';
import { decodePairs, encodePairs } from './name-value.js';
import {
  endRequestRecord,
  getValuesResultRecord,
  stdoutRecords,
  unknownTypeRecord,
} from './record-writer.js';

const hex = (buffers: Buffer | Buffer[]): string => Buffer.concat([buffers].flat()).toString('hex');

test('a CGI head: Status line, headers, blank line', () => {
  assert.equal(
    cgiHead({ status: 404, statusText: '', headers: [['content-type', 'text/plain']] }).toString('latin1'),
    'Status: 404 Not Found\r\ncontent-type: text/plain\r\n\r\n',
  );
});

test('STDOUT: header version 1, type 6, id, length; an empty write ends the stream', () => {
  assert.equal(hex(stdoutRecords(258, Buffer.from('hi'))), '0106010200020000' + '6869');
  assert.equal(hex(stdoutRecords(1, new Uint8Array(0))), '0106000100000000');
});

test('STDOUT over 65535 bytes is split into records of at most 65535', () => {
  const parts = stdoutRecords(1, Buffer.alloc(65535 * 2 + 10, 0x61));
  const lengths = parts.filter((_, i) => i % 2 === 0).map((header) => header.readUInt16BE(4));
  assert.deepEqual(lengths, [65535, 65535, 10]);
  assert.equal(parts[1]?.length, 65535);
});

test('END_REQUEST carries appStatus (u32be) and protocolStatus', () => {
  assert.equal(hex(endRequestRecord(1, 0, 0)), '0103000100080000' + '0000000000000000');
  assert.equal(hex(endRequestRecord(7, 0x01020304, 3)), '0103000700080000' + '0102030403000000');
});

test('UNKNOWN_TYPE and GET_VALUES_RESULT are management records (id 0)', () => {
  assert.equal(hex(unknownTypeRecord(42)), '010b000000080000' + '2a00000000000000');
  assert.equal(
    hex(getValuesResultRecord([['FCGI_MPXS_CONNS', '0']])),
    `010a000000120000${Buffer.from('\x0f\x01FCGI_MPXS_CONNS0', 'latin1').toString('hex')}`,
  );
});

test('name-value lengths: 1 byte up to 127, else 4 bytes with the top bit set', () => {
  const long = 'v'.repeat(128);
  const encoded = encodePairs([
    ['A', 'b'],
    ['N', long],
  ]);
  assert.equal(encoded.subarray(0, 4).toString('hex'), '01014162');
  assert.equal(encoded.subarray(4, 9).toString('hex'), '0180000080');
  assert.deepEqual(decodePairs(encoded), [
    ['A', 'b'],
    ['N', long],
  ]);
});
