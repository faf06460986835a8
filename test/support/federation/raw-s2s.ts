/** The scripted server-to-server stream and the test's authoritative dialback server (src/modules/federation/test-raw-s2s.ts). */
export { openRawS2s, startDialbackAuthority, streamHeader, type DialbackAuthority, type RawS2s, type RawS2sOptions } from '../../../src/modules/federation/test-raw-s2s.js';
