#!/usr/bin/python3
"""
A slixmpp external component (XEP-0114, slixmpp.componentxmpp.ComponentXMPP) driven over stdin/stdout, for
Parley's component tests (test/components.test.ts).

Commands are JSON lines on stdin, replies and events JSON lines on stdout, as in slix_driver.py:

  command   {"id": 1, "cmd": "present", "count": 50, "prefix": "press-", "field": "temperature"}
  reply     {"re": 1, "ok": true, "data": {...}}
  event     {"ev": "session_start"} | {"ev": "stream_error", "condition": "not-authorized"} |
            {"ev": "disconnected"} | {"ev": "stanza", "xml": "..."} (every error or iq result received)

Commands: present (count things, each a presence with show, status, Parley's activity and one typed field),
presence (one presence from `from` with optional show/status/type), raw (send `xml` as is), ping (an iq to
`to`, replies with the answer's type), flood (count presences as fast as the stream takes them), disconnect,
serve (from then on the component answers users itself: a message with a body gets "echo: <body>" back from
the address it was sent to, a jabber:iq:version get is answered, any other iq get or set gets
service-unavailable, a subscription request is approved with `subscribed` and the address's presence, and a
probe gets that presence).

  /usr/bin/python3 slix_component.py --host 127.0.0.1 --port 5275 --jid sensors.localhost --secret s3cret
"""
import argparse
import asyncio
import json
import logging
import sys
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

OUT = sys.stdout
sys.stdout = sys.stderr

import slixmpp  # noqa: E402
from slixmpp.componentxmpp import ComponentXMPP  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402

NS = 'jabber:component:accept'
NS_PRESENTITY = 'urn:xmpp:parley:presentity:0'
NS_PARLEY_PRESENCE = 'urn:parley:presence:0'


def emit(obj):
    OUT.write(json.dumps(obj) + '\n')
    OUT.flush()


class Component(ComponentXMPP):
    def __init__(self, jid, secret, host, port):
        super().__init__(jid, secret, host, port)
        self.serving = False
        self.add_event_handler('session_start', lambda _e: emit({'ev': 'session_start'}))
        self.add_event_handler('disconnected', lambda _e: emit({'ev': 'disconnected'}))
        self.add_event_handler('stream_error', self.on_stream_error)
        for name in ('presence', 'iq', 'message'):
            self.register_handler(Callback('seen ' + name, MatchXPath('{%s}%s' % (NS, name)), self.on_stanza))

    def on_stream_error(self, err):
        emit({'ev': 'stream_error', 'condition': err['condition'], 'text': err['text']})

    def on_stanza(self, stanza):
        emit({'ev': 'stanza', 'xml': str(stanza)})
        if self.serving:
            self.answer(stanza.xml)

    def answer(self, x):
        """The component's own answers to users (the serve command), written as raw XML."""
        kind = x.tag.split('}', 1)[1]
        frm, to, typ, sid = x.get('from'), x.get('to'), x.get('type'), x.get('id') or 'x'
        if kind == 'message' and typ != 'error':
            body = x.findtext('{%s}body' % NS)
            if body:
                self.send_raw('<message from=%s to=%s type="chat" id=%s><body>%s</body></message>'
                              % (quoteattr(to), quoteattr(frm), quoteattr('re-' + sid), escape('echo: ' + body)))
        elif kind == 'iq' and typ in ('get', 'set'):
            q = x[0] if len(x) else None
            if typ == 'get' and q is not None and q.tag == '{jabber:iq:version}query':
                payload = "<query xmlns='jabber:iq:version'><name>slix-component</name><version>1</version></query>"
                self.send_raw('<iq type="result" from=%s to=%s id=%s>%s</iq>' % (quoteattr(to), quoteattr(frm), quoteattr(sid), payload))
            else:
                self.send_raw('<iq type="error" from=%s to=%s id=%s><error type="cancel"><service-unavailable '
                              'xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>' % (quoteattr(to), quoteattr(frm), quoteattr(sid)))
        elif kind == 'presence' and typ in ('subscribe', 'probe'):
            bare = to.split('/')[0]
            if typ == 'subscribe':
                self.send_raw('<presence type="subscribed" from=%s to=%s/>' % (quoteattr(bare), quoteattr(frm)))
            self.send_raw('<presence from=%s to=%s><status>serving</status></presence>' % (quoteattr(bare + '/bot'), quoteattr(frm)))

    def presence_of(self, pfrom, show=None, status=None, ptype=None, activity=None, fields=None):
        p = self.make_presence(pfrom=pfrom, pshow=show, pstatus=status, ptype=ptype)
        if activity is not None:
            a = ET.Element('{%s}presence' % NS_PARLEY_PRESENCE)
            a.set('activity', activity)
            p.append(a)
        if fields:
            f = ET.Element('{%s}fields' % NS_PRESENTITY)
            for name, (ftype, value) in fields.items():
                e = ET.SubElement(f, '{%s}field' % NS_PRESENTITY)
                e.set('name', name)
                e.set('type', ftype)
                e.text = value
            p.append(f)
        return p

    async def run(self, cmd):
        c = cmd['cmd']
        if c == 'present':
            domain = self.boundjid.bare
            for i in range(cmd['count']):
                self.presence_of('%s%d@%s' % (cmd['prefix'], i, domain), show=cmd.get('show'), status='unit %d' % i,
                                 activity=cmd.get('activity'), fields={cmd['field']: ('number', '%d.5' % i)}).send()
            return {'sent': cmd['count']}
        if c == 'presence':
            self.presence_of(cmd['from'], show=cmd.get('show'), status=cmd.get('status'), ptype=cmd.get('type')).send()
            return {}
        if c == 'raw':
            self.send_raw(cmd['xml'])
            return {}
        if c == 'flood':
            domain = self.boundjid.bare
            for i in range(cmd['count']):
                self.send_raw("<presence from='flood-%d@%s'><status>%d</status></presence>" % (i % 100, domain, i))
                if i % 100 == 99:
                    await asyncio.sleep(0)
            return {'sent': cmd['count']}
        if c == 'ping':
            iq = self.make_iq_get(ito=cmd['to'], ifrom=self.boundjid.bare)
            iq.append(ET.Element('{urn:xmpp:ping}ping'))
            try:
                r = await iq.send(timeout=cmd.get('timeout', 10))
                return {'type': r['type']}
            except slixmpp.exceptions.IqError as e:
                return {'type': 'error', 'condition': e.iq['error']['condition']}
        if c == 'serve':
            # slixmpp's own roster handling would answer subscriptions too: the component answers them itself.
            self.auto_authorize = None
            self.auto_subscribe = False
            self.serving = True
            return {}
        if c == 'disconnect':
            self.disconnect()
            return {}
        raise ValueError('unknown command ' + c)


async def commands(comp):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def one(cmd):
        try:
            emit({'re': cmd['id'], 'ok': True, 'data': await comp.run(cmd)})
        except Exception as e:  # reported to the test, which fails with it
            emit({'re': cmd['id'], 'ok': False, 'error': repr(e)})

    while True:
        line = await reader.readline()
        if not line:
            break
        asyncio.ensure_future(one(json.loads(line)))
    comp.abort()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--jid', required=True)
    ap.add_argument('--secret', required=True)
    ap.add_argument('--debug', action='store_true')
    a = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.debug else logging.ERROR, stream=sys.stderr)
    comp = Component(a.jid, a.secret, a.host, a.port)
    comp.connect()
    comp.loop.run_until_complete(commands(comp))


if __name__ == '__main__':
    main()
