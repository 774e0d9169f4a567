import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildIceRestartFragment, parseTrickle } from './trickle.js';

test('a trickle fragment yields its credentials, mids and candidates', () => {
  const f = parseTrickle(
    'a=ice-options:trickle ice2\r\na=group:BUNDLE 0 1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\na=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\na=end-of-candidates\r\n',
  );
  assert.equal(f.ufrag, 'EsAw');
  assert.equal(f.pwd, 'P2uYro0UCOQ4zxjKXaWCBui1');
  assert.deepEqual(f.mids, ['0']);
  assert.equal(f.candidates.length, 1);
});

test('garbage is not a fragment', () => {
  assert.throws(() => parseTrickle(''), /empty/);
  assert.throws(() => parseTrickle('hello world'), /not an SDP fragment/);
});

test('an ICE restart answer carries the new credentials and candidates', () => {
  const text = buildIceRestartFragment(
    { usernameFragment: 'uf', password: 'pw', iceLite: true },
    [{ foundation: 'udpcandidate', priority: 1076302079, ip: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host', tcpType: undefined }],
    ['0'],
  );
  assert.match(text, /a=ice-ufrag:uf\r\n/);
  assert.match(text, /a=ice-pwd:pw\r\n/);
  assert.match(text, /a=candidate:udpcandidate 1 udp 1076302079 127\.0\.0\.1 40000 typ host\r\n/);
});
