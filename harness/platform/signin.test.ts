import { describe, expect, it } from 'vitest';
import { CONNACK, deviceSignIn, hmacHex, parseClientId, signContent, verifySignIn } from './signin.js';

describe('the platform sign-in', () => {
  it("matches the platform's documented vector", () => {
    const content = signContent({ productKey: 'pk', deviceName: 'device', clientId: '12345', timestamp: '789' });
    expect(content).toBe('clientId12345deviceNamedeviceproductKeypktimestamp789');
    expect(hmacHex('hmacsha1', 'secret', content).toUpperCase()).toBe('FAFD82A3D602B37FB0FA8B7892F24A477F851A14');
  });

  it('accepts a device signed with each method, in either hex case, and refuses a wrong secret with CONNACK 4', () => {
    const device = { productKey: 'pk', deviceName: 'device', deviceSecret: 'secret' };
    for (const method of ['hmacmd5', 'hmacsha1', 'hmacsha256'] as const) {
      const signIn = deviceSignIn(device, { id: '12345', method, timestampMs: 789 });
      expect(verifySignIn([device], signIn.clientId, signIn.username, signIn.password)).toEqual({ ok: true, device });
      expect(verifySignIn([device], signIn.clientId, signIn.username, signIn.password.toUpperCase()).ok).toBe(true);
      const wrong = deviceSignIn({ ...device, deviceSecret: 'not-the-secret' }, { id: '12345', method, timestampMs: 789 });
      expect(verifySignIn([device], wrong.clientId, wrong.username, wrong.password)).toMatchObject({ ok: false, returnCode: CONNACK.badUsernameOrPassword });
    }
    const sha1 = deviceSignIn(device, { id: '12345', method: 'hmacsha1', timestampMs: 789 });
    expect(sha1).toEqual({ clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=789|', username: 'device&pk', password: 'fafd82a3d602b37fb0fa8b7892f24a477f851a14' });
  });

  it('refuses an unknown device (5) and a client id not in the form (2); the reasons hold no secret', () => {
    const device = { productKey: 'pk', deviceName: 'device', deviceSecret: 'secret' };
    const other = deviceSignIn({ ...device, deviceName: 'other' });
    const unknown = verifySignIn([device], other.clientId, other.username, other.password);
    expect(unknown).toMatchObject({ ok: false, returnCode: CONNACK.notAuthorized });
    expect(verifySignIn([device], 'plain-id', 'device&pk', 'x')).toMatchObject({ ok: false, returnCode: CONNACK.identifierRejected });
    expect(parseClientId('id|securemode=3,signmethod=hmacsha512|')).toBeUndefined();
    expect(JSON.stringify(unknown)).not.toContain('secret"');
  });
});
