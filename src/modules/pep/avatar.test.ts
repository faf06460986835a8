/**
 * XEP-0084 avatars and XEP-0398 vCard conversion: data items are checked (base64, id = SHA-1), publishing the
 * metadata sets the vCard PHOTO, a vCard PHOTO publishes the avatar, and the hash service follows both.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineModule } from '../api.js';
import { vcard } from '../vcard/index.js';
import type { AvatarHashes } from './avatar.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { AVATAR_DATA, AVATAR_METADATA, VCARD_CONVERSION } from './avatar.js';
import { pep } from './index.js';

const PS = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub'>${inner}</pubsub>`;
const IMAGE = Buffer.from('\u0089PNG fake image bytes for the test');
const B64 = IMAGE.toString('base64');
const HASH = createHash('sha1').update(IMAGE).digest('hex');

describe('pep avatars (XEP-0084, XEP-0398)', () => {
  it('converts a published avatar to the vCard PHOTO and a vCard PHOTO to the avatar; offers the hash', async () => {
    const { engine, host } = await moduleFixture([vcard, pep]);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a', 'phone');
    expect((await a.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, 'a@example.com')).reply).toContain(VCARD_CONVERSION);
    // A data item whose id is not the image's hash, or that is not base64, is refused.
    expect((await a.iq('set', PS(`<publish node='${AVATAR_DATA}'><item id='nope'><data xmlns='${AVATAR_DATA}'>${B64}</data></item></publish>`))).reply).toMatch(/<bad-request[\s\S]*<invalid-payload/);
    // Data, then metadata: the vCard gets the PHOTO, keeping its other fields.
    await a.iq('set', `<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>`);
    expect((await a.iq('set', PS(`<publish node='${AVATAR_DATA}'><item id='${HASH}'><data xmlns='${AVATAR_DATA}'>${B64}</data></item></publish>`))).reply).toContain('type="result"');
    const meta = `<metadata xmlns='${AVATAR_METADATA}'><info id='${HASH}' bytes='${IMAGE.length}' type='image/png'/></metadata>`;
    expect((await a.iq('set', PS(`<publish node='${AVATAR_METADATA}'><item id='${HASH}'>${meta}</item></publish>`))).reply).toContain('type="result"');
    const card = (await a.iq('get', `<vCard xmlns='vcard-temp'/>`)).reply;
    expect(card).toContain('<FN>Alice</FN>');
    expect(card).toContain(`<PHOTO><TYPE>image/png</TYPE><BINVAL>${B64}</BINVAL></PHOTO>`);
    // A vCard with another PHOTO publishes it as the avatar.
    const other = Buffer.from('another picture');
    const otherHash = createHash('sha1').update(other).digest('hex');
    await a.iq('set', `<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>${other.toString('base64')}</BINVAL></PHOTO></vCard>`);
    const metaNow = (await a.iq('get', PS(`<items node='${AVATAR_METADATA}'/>`))).reply;
    expect(metaNow).toContain(`<info id="${otherHash}" bytes="${other.length}" type="image/jpeg"/>`);
    expect((await a.iq('get', PS(`<items node='${AVATAR_DATA}'><item id='${otherHash}'/></items>`))).reply).toContain(other.toString('base64'));
    // No PHOTO: the metadata says there is no avatar.
    await a.iq('set', `<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>`);
    expect((await a.iq('get', PS(`<items node='${AVATAR_METADATA}'/>`))).reply).toMatch(/<metadata xmlns="urn:xmpp:avatar:metadata"\/>/);
    a.close();
  });

  it('the hash service follows the metadata', async () => {
    let service: AvatarHashes | undefined;
    // A module set up after pep, as the presence side of XEP-0153 would be, using the service.
    const probe = defineModule({
      name: 'probe',
      summary: 'uses the avatars service',
      options: z.strictObject({ enabled: z.boolean().default(true) }),
      setup(api) {
        service = api.use('avatars');
      },
    });
    const { engine, host } = await moduleFixture([vcard, pep, probe]);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a', 'phone');
    if (!service) throw new Error('no avatars service');
    expect(await service.hashOf('a@example.com')).toBeNull();
    const heard: string[] = [];
    service.watch((user, hash) => heard.push(`${user} ${hash}`));
    await a.iq('set', `<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>${B64}</BINVAL></PHOTO></vCard>`);
    expect(await service.hashOf('a@example.com')).toBe(HASH);
    expect(heard).toEqual([`a@example.com ${HASH}`]);
    a.close();
  });
});
