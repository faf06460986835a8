#!/usr/bin/python3
"""
A slixmpp client driven over stdin/stdout, for Parley's XMPP interoperability tests (test/xmpp-interop.test.ts).

One process is one XMPP client (one JID, one resource). The test writes commands as JSON lines on stdin and
reads JSON lines on stdout:

  command   {"id": 7, "cmd": "send", "to": "bob@localhost", "body": "hi"}
  reply     {"re": 7, "ok": true, "data": {...}}    or    {"re": 7, "ok": false, "error": "..."}
  event     {"ev": "message", ...}                   (unsolicited: every stanza the server sent, parsed)

The MUC administration commands (`muc_affiliation`, `muc_affiliations`, `muc_role`, `muc_configure`) call
slixmpp's xep_0045 plugin and answer the error condition instead of raising; test/xmpp-muc-admin.test.ts uses them.
The upload commands (`upload`: XEP-0363 through slixmpp's own upload_file; `upload_slot`: the slot request
alone, returning the error stanza when refused) need python3-aiohttp; test/files.test.ts uses them.

Commands run concurrently (each in its own task), so a slow one never blocks the others. End of stdin ends the
process (the test runner died). Diagnostics go to stderr; stdout carries only protocol lines (slixmpp 1.8.3
print()s in its MUC join code, so Python's sys.stdout is pointed at stderr and protocol lines are written to
the original stdout).

Run with the Debian python3-slixmpp (1.8.3) under /usr/bin/python3:

  /usr/bin/python3 slix_driver.py --host 127.0.0.1 --port 5222 --jid alice@localhost --password pw-alice \
      [--resource laptop] [--mode starttls|directtls] [--cafile certs/localhost.crt] [--debug]
"""
import argparse
import asyncio
import base64
import io
import json
import logging
import ssl
import sys
import xml.etree.ElementTree as ET
from datetime import datetime

OUT = sys.stdout
sys.stdout = sys.stderr

import slixmpp  # noqa: E402  (after the stdout swap: slixmpp may print on import)
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402

NS_CLIENT = 'jabber:client'
NS_ROSTER = 'jabber:iq:roster'
NS_DELAY = 'urn:xmpp:delay'
NS_SID = 'urn:xmpp:sid:0'
NS_CARBONS = 'urn:xmpp:carbons:2'
NS_FORWARD = 'urn:xmpp:forward:0'
NS_MAM = 'urn:xmpp:mam:2'
NS_MUC_USER = 'http://jabber.org/protocol/muc#user'
NS_PING = 'urn:xmpp:ping'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event'
NS_CAPS = 'http://jabber.org/protocol/caps'
NS_PARLEY_PRESENCE = 'urn:parley:presence:0'


def emit(obj):
    OUT.write(json.dumps(obj) + '\n')
    OUT.flush()


def q(ns, name):
    return '{%s}%s' % (ns, name)


def xml_text(el):
    return ET.tostring(el, encoding='unicode')


def message_info(m):
    """The fields of a <message/> element the tests look at."""
    delay = m.find(q(NS_DELAY, 'delay'))
    sid = m.find(q(NS_SID, 'stanza-id'))
    origin = m.find(q(NS_SID, 'origin-id'))
    return {
        'from': m.get('from'),
        'to': m.get('to'),
        'type': m.get('type', 'normal'),
        'id': m.get('id'),
        'body': m.findtext(q(NS_CLIENT, 'body')),
        'delay': None if delay is None else {'stamp': delay.get('stamp'), 'from': delay.get('from')},
        'stanzaId': None if sid is None else {'id': sid.get('id'), 'by': sid.get('by')},
        'originId': None if origin is None else origin.get('id'),
    }


def forwarded_info(fwd):
    """A XEP-0297 <forwarded/>: the inner message and the forwarding delay."""
    if fwd is None:
        return None
    inner = fwd.find(q(NS_CLIENT, 'message'))
    delay = fwd.find(q(NS_DELAY, 'delay'))
    info = message_info(inner) if inner is not None else None
    if info is not None:
        info['xml'] = xml_text(inner)
    if info is not None and delay is not None:
        info['forwardDelay'] = delay.get('stamp')
    return info


def error_info(stanza_xml):
    err = stanza_xml.find(q(NS_CLIENT, 'error'))
    if err is None:
        return None
    cond = None
    for child in err:
        if child.tag.startswith('{%s}' % NS_STANZAS) and not child.tag.endswith('}text'):
            cond = child.tag.split('}', 1)[1]
    return {'type': err.get('type'), 'condition': cond, 'text': err.findtext(q(NS_STANZAS, 'text'))}


class Driver:
    def __init__(self, args):
        self.args = args
        self.loop = asyncio.get_running_loop()
        self.xmpp = None
        self.mechanisms_tried = []
        self.waiting = None  # future of the running connect/reconnect

    # ---------------------------------------------------------------------------------------------------------
    # Client set-up
    # ---------------------------------------------------------------------------------------------------------

    def make_client(self, sm, notify=False):
        a = self.args
        jid = a.jid + ('/' + a.resource if a.resource else '')
        x = slixmpp.ClientXMPP(jid, a.password)
        # Parley listens on 127.0.0.1 only: no AAAA, and the port given (not 5222 from a DNS answer).
        x.use_ipv6 = False
        x.default_port = a.port
        if a.cafile:
            # Verify the server's self-signed certificate against itself (hostname included).
            x.ca_certs = a.cafile
        else:
            x.ssl_context.check_hostname = False
            x.ssl_context.verify_mode = ssl.CERT_NONE
        # Subscriptions are answered by the test, never automatically.
        x.auto_authorize = None
        x.auto_subscribe = False
        for p in ['xep_0030', 'xep_0004', 'xep_0059', 'xep_0297', 'xep_0203', 'xep_0359', 'xep_0280', 'xep_0313', 'xep_0045', 'xep_0199']:
            x.register_plugin(p)
        if sm:
            x.register_plugin('xep_0198')
        if notify:
            # XEP-0115 caps on every presence, so the server learns our +notify interests (XEP-0163 §4.3).
            x.register_plugin('xep_0115')
            x.register_plugin('xep_0163')

        # Every stanza, as the server sent it (independent of slixmpp's own event classification).
        x.register_handler(Callback('driver messages', MatchXPath(q(NS_CLIENT, 'message')), self.on_message))
        x.register_handler(Callback('driver presences', MatchXPath(q(NS_CLIENT, 'presence')), self.on_presence))
        x.register_handler(Callback('driver iqs', MatchXPath(q(NS_CLIENT, 'iq')), self.on_iq))

        # What slixmpp itself made of it.
        x.add_event_handler('carbon_received', lambda m: self.on_carbon('received', m))
        x.add_event_handler('carbon_sent', lambda m: self.on_carbon('sent', m))
        x.add_event_handler('groupchat_message', lambda m: emit({'ev': 'groupchat_message', **message_info(m.xml)}))
        x.add_event_handler('session_start', lambda _e: emit({'ev': 'session_start', 'jid': str(x.boundjid)}))
        x.add_event_handler('session_resumed', lambda _e: emit({'ev': 'session_resumed', 'jid': str(x.boundjid)}))
        x.add_event_handler('sm_enabled', lambda e: emit({'ev': 'sm_enabled', 'id': e['id'], 'resume': e['resume']}))
        x.add_event_handler('sm_failed', lambda e: emit({'ev': 'sm_failed', 'xml': str(e)}))
        x.add_event_handler('disconnected', lambda r: emit({'ev': 'disconnected', 'reason': str(r)}))
        x.add_event_handler('stream_error', lambda e: emit({'ev': 'stream_error', 'xml': str(e)}))
        x.add_event_handler('failed_auth', self.on_failed_auth)
        x.add_event_handler('auth_success', lambda _e: emit({'ev': 'auth_success', 'mechanism': self.mechanism()}))
        x.add_event_handler('connection_failed', lambda e: emit({'ev': 'connection_failed', 'error': str(e)}))
        return x

    def mechanism(self):
        m = self.xmpp['feature_mechanisms'].mech
        return None if m is None else m.name

    def on_failed_auth(self, stanza):
        emit({'ev': 'failed_auth', 'mechanism': self.mechanism(), 'xml': str(stanza)})

    def on_message(self, msg):
        m = msg.xml
        info = message_info(m)
        for kind in ('received', 'sent'):
            c = m.find(q(NS_CARBONS, kind))
            if c is not None:
                info['carbon'] = {'kind': kind, 'forwarded': forwarded_info(c.find(q(NS_FORWARD, 'forwarded')))}
        r = m.find(q(NS_MAM, 'result'))
        if r is not None:
            info['mam'] = {'queryid': r.get('queryid'), 'id': r.get('id'), 'forwarded': forwarded_info(r.find(q(NS_FORWARD, 'forwarded')))}
        ev = m.find(q(NS_PUBSUB_EVENT, 'event'))
        if ev is not None:
            items = ev.find(q(NS_PUBSUB_EVENT, 'items'))
            item = None if items is None else items.find(q(NS_PUBSUB_EVENT, 'item'))
            payload = None if item is None or len(item) == 0 else item[0]
            info['pep'] = {
                'node': None if items is None else items.get('node'),
                'id': None if item is None else item.get('id'),
                'fields': [] if payload is None else [{'name': f.get('name'), 'type': f.get('type'), 'value': f.text}
                                                      for f in payload if f.tag.endswith('}field')],
            }
        info['subject'] = m.findtext(q(NS_CLIENT, 'subject'))
        info['mucUser'] = m.find(q(NS_MUC_USER, 'x')) is not None
        info['error'] = error_info(m)
        info['xml'] = xml_text(m)
        emit({'ev': 'message', **info})

    def on_presence(self, pres):
        p = pres.xml
        info = {
            'from': p.get('from'),
            'to': p.get('to'),
            'type': p.get('type', 'available'),
            'show': p.findtext(q(NS_CLIENT, 'show')),
            'status': p.findtext(q(NS_CLIENT, 'status')),
            'error': error_info(p),
            'xml': xml_text(p),
        }
        caps = p.find(q(NS_CAPS, 'c'))
        if caps is not None:
            info['caps'] = {'node': caps.get('node'), 'ver': caps.get('ver'), 'hash': caps.get('hash')}
        parley = p.find(q(NS_PARLEY_PRESENCE, 'presence'))
        if parley is not None:
            info['parley'] = {'state': parley.get('state'), 'sessions': parley.get('sessions')}
        delay = p.find(q(NS_DELAY, 'delay'))
        if delay is not None:
            info['delay'] = {'stamp': delay.get('stamp'), 'from': delay.get('from')}
        x = p.find(q(NS_MUC_USER, 'x'))
        if x is not None:
            item = x.find(q(NS_MUC_USER, 'item'))
            info['muc'] = {
                'codes': [s.get('code') for s in x.findall(q(NS_MUC_USER, 'status'))],
                'affiliation': None if item is None else item.get('affiliation'),
                'role': None if item is None else item.get('role'),
                'jid': None if item is None else item.get('jid'),
                'reason': None if item is None else item.findtext(q(NS_MUC_USER, 'reason')),
            }
        emit({'ev': 'presence', **info})

    def on_iq(self, iq):
        x = iq.xml
        query = x.find(q(NS_ROSTER, 'query'))
        if x.get('type') == 'set' and query is not None:
            emit({'ev': 'roster_push', 'from': x.get('from'), 'ver': query.get('ver'), 'items': roster_items(query), 'xml': xml_text(x)})
        disco = x.find(q('http://jabber.org/protocol/disco#info', 'query'))
        if x.get('type') == 'get' and disco is not None:
            emit({'ev': 'disco_get', 'from': x.get('from'), 'node': disco.get('node')})
        if x.get('type') in ('result', 'error'):
            emit({'ev': 'iq_reply', 'type': x.get('type'), 'id': x.get('id'), 'from': x.get('from'), 'error': error_info(x)})

    def on_carbon(self, kind, msg):
        inner = msg['carbon_received'] if kind == 'received' else msg['carbon_sent']
        emit({'ev': 'carbon', 'kind': kind, 'from': str(msg['from']), **{'inner': {**message_info(inner.xml), 'xml': xml_text(inner.xml)}}})

    def tls_info(self):
        t = self.xmpp.transport
        so = t.get_extra_info('ssl_object') if t is not None else None
        return None if so is None else {'version': so.version(), 'cipher': so.cipher()[0]}

    # ---------------------------------------------------------------------------------------------------------
    # Commands
    # ---------------------------------------------------------------------------------------------------------

    async def open_stream(self, timeout):
        """Connects and waits for session_start (new session) or session_resumed; raises on failure."""
        x = self.xmpp
        done = self.loop.create_future()

        def settle(kind, value):
            if not done.done():
                done.set_result((kind, value))

        handlers = {
            'session_start': lambda _e: settle('ok', 'started'),
            'session_resumed': lambda _e: settle('ok', 'resumed'),
            'failed_all_auth': lambda _e: settle('error', 'authentication failed with every mechanism'),
            'no_auth': lambda _e: settle('error', 'no usable SASL mechanism'),
            'disconnected': lambda r: settle('error', 'disconnected during negotiation: %s' % r),
            'connection_failed': lambda e: settle('error', 'connection failed: %s' % e),
            'ssl_invalid_chain': lambda e: settle('error', 'TLS certificate refused: %s' % e),
        }
        for name, h in handlers.items():
            x.add_event_handler(name, h)
        try:
            x.connect((self.args.host, self.args.port), use_ssl=self.args.mode == 'directtls',
                      force_starttls=self.args.mode == 'starttls', disable_starttls=False)
            kind, value = await asyncio.wait_for(done, timeout)
        finally:
            for name, h in handlers.items():
                x.del_event_handler(name, h)
        if kind == 'error':
            x.cancel_connection_attempt()
            raise RuntimeError(value)
        return value

    async def cmd_connect(self, c):
        sm = bool(c.get('sm', False))
        notify = c.get('notify') or []
        self.xmpp = self.make_client(sm, notify=bool(notify))
        x = self.xmpp
        sm_enabled = self.loop.create_future()
        if sm:
            x.add_event_handler('sm_enabled', lambda e: sm_enabled.done() or sm_enabled.set_result(e['id']), disposable=True)
        state = await self.open_stream(c.get('timeout', 15))
        result = {'jid': str(x.boundjid), 'state': state, 'mechanism': self.mechanism(), 'tls': self.tls_info(),
                  'starttls': 'starttls' in x.features}
        if sm:
            result['smId'] = await asyncio.wait_for(sm_enabled, 10)
        if c.get('roster', True):
            result['roster'] = await self.roster_get()
        if c.get('carbons', False):
            await x['xep_0280'].enable(timeout=10)
            result['carbons'] = True
        if notify:
            for ns in notify:
                x['xep_0030'].add_feature('%s+notify' % ns)
            await x['xep_0115'].update_caps(broadcast=False)
            result['caps'] = await x['xep_0115'].get_verstring(x.boundjid.full)
        if c.get('presence', True):
            x.send_presence()
        return result

    async def cmd_drop(self, _c):
        """The TCP connection dies: no </stream:stream>, no TLS close_notify."""
        x = self.xmpp
        gone = self.loop.create_future()
        x.add_event_handler('disconnected', lambda _r: gone.done() or gone.set_result(True), disposable=True)
        x.transport.abort()
        await asyncio.wait_for(gone, 10)
        return {}

    async def cmd_ack(self, _c):
        """XEP-0198 <a h/> now, without waiting for the server's <r/>."""
        self.xmpp['xep_0198'].send_ack()
        return {'h': self.xmpp['xep_0198'].handled}

    async def cmd_reconnect(self, c):
        """Connects again with the same client object (XEP-0198 resumption when a resumable session exists)."""
        state = await self.open_stream(c.get('timeout', 15))
        return {'jid': str(self.xmpp.boundjid), 'state': state, 'mechanism': self.mechanism(), 'tls': self.tls_info()}

    async def cmd_disconnect(self, _c):
        x = self.xmpp
        if x is None or x.transport is None:
            return {}
        await x.disconnect(wait=5)
        return {}

    async def cmd_send(self, c):
        x = self.xmpp
        msg = x.make_message(mto=c['to'], mbody=c.get('body'), mtype=c.get('type', 'chat'))
        if 'msgId' in c:
            msg['id'] = c['msgId']
        # Extension elements as raw XML (each with its own xmlns), appended after the body.
        if c.get('xml'):
            for child in ET.fromstring('<wrap>%s</wrap>' % c['xml']):
                msg.xml.append(child)
        msg.send()
        return {'id': msg['id']}

    async def cmd_presence(self, c):
        kwargs = {}
        if c.get('to'):
            kwargs['pto'] = c['to']
        if c.get('type'):
            kwargs['ptype'] = c['type']
        if c.get('show'):
            kwargs['pshow'] = c['show']
        if c.get('status'):
            kwargs['pstatus'] = c['status']
        if c.get('priority') is not None:
            kwargs['ppriority'] = c['priority']
        pres = self.xmpp.make_presence(**kwargs)
        # Extended content as given (RFC 6121 §4.7.3), e.g. a XEP-0115 <c/> the test chose.
        for extra in c.get('extra', []):
            pres.xml.append(ET.fromstring(extra))
        pres.send()
        return {}

    async def cmd_roster_set(self, c):
        iq = self.xmpp.make_iq_set()
        query = ET.SubElement(iq.xml, q(NS_ROSTER, 'query'))
        attrs = {'jid': c['jid']}
        if c.get('name'):
            attrs['name'] = c['name']
        item = ET.SubElement(query, q(NS_ROSTER, 'item'), attrs)
        for g in c.get('groups', []):
            ET.SubElement(item, q(NS_ROSTER, 'group')).text = g
        await self.send_iq(iq)
        return {}

    async def roster_get(self):
        iq = self.xmpp.make_iq_get()
        ET.SubElement(iq.xml, q(NS_ROSTER, 'query'))
        res = await self.send_iq(iq)
        query = res.xml.find(q(NS_ROSTER, 'query'))
        return {'ver': None if query is None else query.get('ver'), 'items': [] if query is None else roster_items(query)}

    async def cmd_roster_get(self, _c):
        return await self.roster_get()

    async def cmd_ping(self, c):
        """An iq round trip with the server: everything it queued for this stream before has arrived."""
        iq = self.xmpp.make_iq_get(ito=c.get('to') or self.xmpp.boundjid.domain)
        ET.SubElement(iq.xml, q(NS_PING, 'ping'))
        await self.send_iq(iq)
        return {}

    async def cmd_mam(self, c):
        rsm = {'max': c['max']} if 'max' in c else None
        # XEP-0313 §4.1.1 time filters, as ISO 8601 strings from the test.
        start = datetime.fromisoformat(c['start']) if 'start' in c else None
        end = datetime.fromisoformat(c['end']) if 'end' in c else None
        res = await self.xmpp['xep_0313'].retrieve(jid=c.get('archive'), with_jid=c.get('with'), start=start, end=end, rsm=rsm, timeout=10)
        fin = res.xml.find(q(NS_MAM, 'fin'))
        results = []
        for m in res['mam']['results']:
            r = m.xml.find(q(NS_MAM, 'result'))
            results.append({'id': r.get('id'), 'queryid': r.get('queryid'), 'from': m.xml.get('from'),
                            'forwarded': forwarded_info(r.find(q(NS_FORWARD, 'forwarded')))})
        return {'results': results, 'complete': None if fin is None else fin.get('complete'), 'fin': None if fin is None else xml_text(fin)}

    async def cmd_bookmarks_set(self, c):
        """XEP-0048 bookmarks stored the legacy way, in XEP-0049 private storage (slixmpp's default), or with
        method 'xep_0223' in the PEP node storage:bookmarks."""
        self.xmpp.register_plugin('xep_0048')
        b = self.xmpp['xep_0048'].stanza.Bookmarks()
        for conf in c['conferences']:
            b.add_conference(conf['jid'], conf['nick'], name=conf.get('name'), autojoin=conf.get('autojoin'))
        await self.xmpp['xep_0048'].set_bookmarks(b, method=c.get('method', 'xep_0049'), timeout=10)
        return {}

    async def cmd_bookmarks_get(self, _c):
        self.xmpp.register_plugin('xep_0048')
        res = await self.xmpp['xep_0048'].get_bookmarks(method='xep_0049', timeout=10)
        confs = res['private']['bookmarks']['conferences']
        return {'conferences': [{'jid': str(x['jid']), 'nick': x['nick'], 'name': x['name'], 'autojoin': bool(x['autojoin'])} for x in confs]}

    def pubsub_form(self, fields, form_type='publish-options'):
        """An XEP-0004 submit form of publish-options or node configuration, from {var: value}."""
        self.xmpp.register_plugin('xep_0004')
        form = self.xmpp['xep_0004'].stanza.Form()
        form['type'] = 'submit'
        form.add_field(var='FORM_TYPE', ftype='hidden', value='http://jabber.org/protocol/pubsub#%s' % form_type)
        for var, value in fields.items():
            form.add_field(var=var, value=value)
        return form

    async def cmd_pep_publish(self, c):
        """XEP-0163 publish (slixmpp's xep_0060 with PEP defaults: no to), optionally with publish-options; `item` is the id."""
        self.xmpp.register_plugin('xep_0060')
        options = self.pubsub_form(c['options']) if c.get('options') else None
        try:
            res = await self.xmpp['xep_0060'].publish(None, c['node'], id=c.get('item'), payload=ET.fromstring(c['payload']), options=options, timeout=10)
            item = res.xml.find('.//' + q('http://jabber.org/protocol/pubsub', 'item'))
            return {'id': None if item is None else item.get('id'), 'error': None}
        except IqError as e:
            return {'id': None, 'error': error_info(e.iq.xml), 'xml': xml_text(e.iq.xml)}

    async def cmd_pep_items(self, c):
        """XEP-0060 §6.5 items of a node at a bare address (slixmpp's get_items); errors answered, not raised."""
        self.xmpp.register_plugin('xep_0060')
        try:
            res = await self.xmpp['xep_0060'].get_items(c['jid'], c['node'], max_items=c.get('max'), timeout=10)
            items = res.xml.findall('.//' + q('http://jabber.org/protocol/pubsub', 'item'))
            return {'items': [{'id': i.get('id'), 'xml': xml_text(i[0]) if len(i) else None} for i in items], 'error': None}
        except IqError as e:
            return {'items': [], 'error': error_info(e.iq.xml)}

    async def cmd_private_pep_store(self, c):
        """XEP-0223 private data in PEP (slixmpp's xep_0223: whitelist and persist_items as publish-options)."""
        self.xmpp.register_plugin('xep_0223')
        payload = slixmpp.xmlstream.ElementBase(ET.fromstring(c['payload']))
        try:
            await self.xmpp['xep_0223'].store(payload, node=c['node'], id=c.get('item'), timeout=10)
            return {'error': None}
        except IqError as e:
            return {'error': error_info(e.iq.xml)}

    async def cmd_avatar_publish(self, c):
        """XEP-0084 avatar (slixmpp's xep_0084): the data, then the metadata naming it."""
        self.xmpp.register_plugin('xep_0084')
        data = base64.b64decode(c['data'])
        plugin = self.xmpp['xep_0084']
        await plugin.publish_avatar(data, timeout=10)
        info = {'id': plugin.generate_id(data), 'type': c.get('type', 'image/png'), 'bytes': len(data)}
        await plugin.publish_avatar_metadata(info, timeout=10)
        return info

    async def cmd_vcard_get(self, c):
        """XEP-0054 vCard of a user (slixmpp's xep_0054), with its PHOTO's BINVAL."""
        self.xmpp.register_plugin('xep_0054')
        res = await self.xmpp['xep_0054'].get_vcard(c['jid'], local=False, cached=False, timeout=10)
        v = res.xml.find(q('vcard-temp', 'vCard'))
        photo = None if v is None else v.find(q('vcard-temp', 'PHOTO'))
        return {'photo': None if photo is None else {'type': photo.findtext(q('vcard-temp', 'TYPE')), 'binval': photo.findtext(q('vcard-temp', 'BINVAL'))}}

    async def cmd_join_muc(self, c):
        pres, subject, occupants, history = await self.xmpp['xep_0045'].join_muc_wait(
            c['room'], c['nick'], maxstanzas=c.get('maxstanzas', 0), timeout=10)
        x = pres.xml.find(q(NS_MUC_USER, 'x'))
        return {
            'from': str(pres['from']),
            'codes': [] if x is None else [s.get('code') for s in x.findall(q(NS_MUC_USER, 'status'))],
            'occupants': [str(o['from']) for o in occupants],
            'subject': subject['subject'],
            'history': [xml_text(h.xml) for h in history],
        }

    async def cmd_leave_muc(self, c):
        self.xmpp['xep_0045'].leave_muc(c['room'], c['nick'])
        return {}

    async def muc_admin(self, call):
        """One XEP-0045 admin or owner request through slixmpp's plugin: {} on success, else the error."""
        try:
            return {'result': await call}
        except IqError as e:
            return {'error': error_info(e.iq.xml)}

    async def cmd_muc_affiliation(self, c):
        """XEP-0045 §9: set_affiliation (outcast bans, with a reason; none lifts the ban)."""
        r = await self.muc_admin(self.xmpp['xep_0045'].set_affiliation(
            slixmpp.JID(c['room']), c['affiliation'], jid=slixmpp.JID(c['jid']), reason=c.get('reason', ''), timeout=10))
        return {'error': r.get('error')}

    async def cmd_muc_affiliations(self, c):
        """XEP-0045 §9.2, §9.5: get_affiliation_list."""
        r = await self.muc_admin(self.xmpp['xep_0045'].get_affiliation_list(slixmpp.JID(c['room']), c['affiliation'], timeout=10))
        return {'error': r.get('error'), 'jids': [str(j) for j in r.get('result') or []]}

    async def cmd_muc_role(self, c):
        """XEP-0045 §8: set_role by nick (participant gives voice, visitor takes it)."""
        r = await self.muc_admin(self.xmpp['xep_0045'].set_role(slixmpp.JID(c['room']), c['nick'], c['role'], reason=c.get('reason', ''), timeout=10))
        return {'error': r.get('error')}

    async def cmd_muc_configure(self, c):
        """XEP-0045 §10.2: get_room_config, change the fields given, set_room_config."""
        muc = self.xmpp['xep_0045']
        room = slixmpp.JID(c['room'])
        form = await muc.get_room_config(room, timeout=10)
        form.set_values(c['fields'])
        r = await self.muc_admin(muc.set_room_config(room, form, timeout=10))
        return {'error': r.get('error')}

    async def cmd_iq(self, c):
        """An iq get or set with a raw payload; answers the reply, errors included (never raises on an error).
        Type result or error (with the `iqId` given, payload optional) is only sent: nothing answers those."""
        x = self.xmpp
        if c.get('type') in ('result', 'error'):
            iq = x.make_iq(id=c['iqId'], ito=c['to'], itype=c['type'])
            if c.get('payload'):
                iq.xml.append(ET.fromstring(c['payload']))
            iq.send()
            return {}
        iq = x.make_iq_get(ito=c['to']) if c.get('type', 'get') == 'get' else x.make_iq_set(ito=c['to'])
        iq.xml.append(ET.fromstring(c['payload']))
        try:
            res = await iq.send(timeout=10)
            return {'type': 'result', 'xml': xml_text(res.xml), 'error': None}
        except IqError as e:
            return {'type': 'error', 'xml': xml_text(e.iq.xml), 'error': error_info(e.iq.xml)}

    async def cmd_pubsub(self, c):
        """A call of slixmpp's xep_0060 plugin by name (subscribe, unsubscribe, get_subscriptions, modify_subscriptions...)
        with keyword arguments; answers the reply, or the error as the server sent it (never raises on an error)."""
        self.xmpp.register_plugin('xep_0060')
        kwargs = dict(c.get('args') or {})
        if 'subscriptions' in kwargs:
            kwargs['subscriptions'] = [tuple(s) for s in kwargs['subscriptions']]
        if isinstance(kwargs.get('options'), dict):
            # Subscription options (XEP-0060 §6.3.7) given as {var: value}: a submitted subscribe_options form.
            kwargs['options'] = self.pubsub_form(kwargs['options'], 'subscribe_options')
        try:
            res = await getattr(self.xmpp['xep_0060'], c['call'])(timeout=10, **kwargs)
            return {'xml': xml_text(res.xml), 'error': None}
        except IqError as e:
            return {'xml': xml_text(e.iq.xml), 'error': error_info(e.iq.xml)}

    def upload_plugin(self):
        # Registered on first use: XEP-0363 in slixmpp needs aiohttp, which the other commands do not.
        if 'xep_0363' not in self.xmpp.plugin:
            self.xmpp.register_plugin('xep_0128')
            self.xmpp.register_plugin('xep_0363')
            # slixmpp 1.8.3's get_info_from_domain hands coroutines to asyncio.wait, which Python 3.11 refuses:
            # get_info returns a task instead, so its own discovery code runs unchanged.
            disco = self.xmpp['xep_0030']
            get_info = disco.get_info
            disco.get_info = lambda *a, **k: asyncio.ensure_future(get_info(*a, **k))
        return self.xmpp['xep_0363']

    async def cmd_upload(self, c):
        """XEP-0363 as slixmpp does it: find the service and its max-file-size in disco, request a slot, PUT."""
        data = base64.b64decode(c['data'])
        up = self.upload_plugin()
        url = await up.upload_file(c['filename'], size=len(data), content_type=c.get('content_type'),
                                   input_file=io.BytesIO(data), timeout=20)
        limit = up.max_file_size
        return {'url': url, 'service': str(up.upload_service), 'max_file_size': None if limit == float('inf') else limit}

    async def cmd_upload_slot(self, c):
        """The slot request alone (XEP-0363 §4): the slot's URLs, or the error as the server sent it."""
        up = self.upload_plugin()
        try:
            iq = await up.request_slot(slixmpp.JID(c.get('to') or self.xmpp.boundjid.domain), c['filename'], c['size'],
                                       c.get('content_type'), timeout=10)
        except IqError as e:
            return {'error': error_info(e.iq.xml), 'xml': str(e.iq)}
        slot = iq['http_upload_slot']
        return {'put': slot['put']['url'], 'get': slot['get']['url']}

    async def send_iq(self, iq):
        try:
            return await iq.send(timeout=10)
        except IqError as e:
            raise RuntimeError('iq error: %s' % e.iq) from None
        except IqTimeout:
            raise RuntimeError('iq timed out: %s' % iq) from None

    async def run(self, c):
        cid = c.get('id')
        fn = getattr(self, 'cmd_' + str(c.get('cmd')), None)
        if fn is None:
            emit({'re': cid, 'ok': False, 'error': 'unknown command %r' % c.get('cmd')})
            return
        try:
            data = await fn(c)
            emit({'re': cid, 'ok': True, 'data': data})
        except Exception as e:  # every failure goes back to the test, with its type
            logging.exception('command %s failed', c.get('cmd'))
            emit({'re': cid, 'ok': False, 'error': '%s: %s' % (type(e).__name__, e)})


def roster_items(query):
    return [{'jid': i.get('jid'), 'name': i.get('name'), 'subscription': i.get('subscription', 'none'), 'ask': i.get('ask'),
             'groups': [g.text for g in i.findall(q(NS_ROSTER, 'group'))]} for i in query.findall(q(NS_ROSTER, 'item'))]


async def main():
    p = argparse.ArgumentParser()
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--jid', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--resource', default=None)
    p.add_argument('--mode', choices=['starttls', 'directtls'], default='starttls')
    p.add_argument('--cafile', default=None)
    p.add_argument('--debug', action='store_true')
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, stream=sys.stderr,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    loop = asyncio.get_running_loop()
    driver = Driver(args)
    # Commands may carry a file to upload (base64): lines of up to 64 MiB.
    reader = asyncio.StreamReader(limit=64 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({'ev': 'ready', 'slixmpp': slixmpp.__version__})
    tasks = set()
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            c = json.loads(line)
        except ValueError:
            emit({'ev': 'bad_command', 'line': line.decode('utf-8', 'replace')})
            continue
        if c.get('cmd') == 'quit':
            if driver.xmpp is not None and driver.xmpp.transport is not None:
                try:
                    await asyncio.wait_for(driver.xmpp.disconnect(wait=2), 3)
                except Exception:
                    pass
            emit({'re': c.get('id'), 'ok': True, 'data': {}})
            break
        t = asyncio.ensure_future(driver.run(c))
        tasks.add(t)
        t.add_done_callback(tasks.discard)


if __name__ == '__main__':
    asyncio.run(main())
