#!/usr/bin/python3
"""otc-record-streams: joins an otc session with otcsrc and records every
stream it subscribes to in a WebM file of its own, <stream id>.webm: the
decrypted VP8 and Opus frames as they were encoded, without decoding or
re-encoding them.

    otc-record-streams.py [--secret-file FILE] [--dir DIR] URL TOKEN

The secret comes from --secret-file or the environment variable OTC_SECRET,
never from the command line. TOKEN may be @FILE to read it from a file.

A file is finished (duration and seek index written) when its stream ends
and when the script is stopped with Ctrl-C (SIGINT) or SIGTERM.

Needs Debian's python3-gi, gir1.2-gstreamer-1.0 and
gir1.2-gst-plugins-base-1.0, and the otc plugins (GST_PLUGIN_PATH=build/ext
when they are not installed). See docs/session-elements.md.
"""
import argparse
import os
import re
import signal
import sys
import threading
import time

import gi

gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst  # noqa: E402

# How long finishing the files may take after Ctrl-C.
FINISH_TIMEOUT_S = 5


class Recording:
    """One stream's file: a queue per medium -> webmmux -> filesink."""

    def __init__(self, app, stream_id, media):
        self.app = app
        self.stream_id = stream_id
        safe = re.sub(r'[^A-Za-z0-9_.-]', '_', stream_id)
        self.path = os.path.join(app.dir, safe + '.webm')
        self.mux = Gst.ElementFactory.make('webmmux', None)
        self.sink = Gst.ElementFactory.make('filesink', None)
        self.sink.set_property('location', self.path)
        self.sink.set_property('async', False)
        self.queues = {}        # medium -> queue, once its pad came
        self.mux_pads = {}      # medium -> webmmux sink pad
        self.buffers = {}       # medium -> buffers written
        self.finished = False
        self.removed = False
        self.elements = [self.mux, self.sink]
        for e in self.elements:
            app.pipeline.add(e)
        self.mux.link(self.sink)
        # webmmux takes no new pad once it has written its header, so
        # every medium the stream announced gets its pad now
        for medium in media:
            self.mux_pads[medium] = self.mux.request_pad_simple(
                medium + '_%u')
        self.sink.get_static_pad('sink').add_probe(
            Gst.PadProbeType.EVENT_DOWNSTREAM, self._on_sink_event)
        self.mux.sync_state_with_parent()
        self.sink.sync_state_with_parent()

    def add_pad(self, medium, pad):
        """Links otcsrc's src pad for @medium. Called from pad-added."""
        mux_pad = self.mux_pads.get(medium)
        if mux_pad is None:     # not announced: try anyway
            mux_pad = self.mux.request_pad_simple(medium + '_%u')
            if mux_pad is None:
                self.app.say('%s: no room for %s in %s' % (
                    self.stream_id, medium, self.path))
                return
            self.mux_pads[medium] = mux_pad
        queue = Gst.ElementFactory.make('queue', None)
        self.app.pipeline.add(queue)
        self.elements.append(queue)
        # queue -> webmmux first: otcsrc then sees that what its pad is
        # linked to takes VP8/Opus, not raw media, and does not decode
        queue.get_static_pad('src').link(mux_pad)
        queue.sync_state_with_parent()
        self.buffers[medium] = 0
        queue.get_static_pad('src').add_probe(
            Gst.PadProbeType.BUFFER, self._on_buffer, medium)
        self.queues[medium] = queue
        if pad.link(queue.get_static_pad('sink')) != Gst.PadLinkReturn.OK:
            self.app.say('%s: cannot link %s' % (self.stream_id,
                                                 pad.get_name()))

    def _on_buffer(self, pad, info, medium):
        self.buffers[medium] += 1
        return Gst.PadProbeReturn.OK

    def end(self):
        """Ends the file: EOS into every medium that has not had it."""
        # Not an EOS sent to otcsrc: otcsrc pushes that with the next frame
        # of each pad, so a stream whose frames do not decrypt (another
        # secret) or that sends nothing would never end its file.
        for medium, mux_pad in self.mux_pads.items():
            queue = self.queues.get(medium)
            target = queue.get_static_pad('sink') if queue else mux_pad
            target.send_event(Gst.Event.new_eos())

    def _on_sink_event(self, pad, info):
        if info.get_event().type == Gst.EventType.EOS:
            # webmmux has written the duration and the index
            self.finished = True
            GLib.idle_add(self.app.remove_recording, self)
        return Gst.PadProbeReturn.OK

    def remove(self):
        if self.removed:
            return
        self.removed = True
        for e in self.elements:
            e.set_state(Gst.State.NULL)
            self.app.pipeline.remove(e)


class Recorder:
    def __init__(self, args, token):
        self.dir = args.dir
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.streams = {}       # stream id -> media announced
        self.recordings = {}    # stream id -> Recording
        self.done = []          # finished files, for the summary
        self.quitting = False
        self.failed = False
        self.loop = GLib.MainLoop()

        self.pipeline = Gst.Pipeline.new('recorder')
        self.src = Gst.ElementFactory.make('otcsrc', 'otcsrc')
        if self.src is None:
            raise SystemExit('otcsrc not found: set GST_PLUGIN_PATH to the '
                             "build's ext/ folder, or install otc")
        self.src.set_property('url', args.url)
        self.src.set_property('token', token)
        if args.secret_file:
            # the element reads the file itself
            self.src.set_property('encryption-secret-file', args.secret_file)
        elif os.environ.get('OTC_SECRET'):
            if not self.src.emit('set-encryption-secret',
                                 os.environ['OTC_SECRET']):
                raise SystemExit('OTC_SECRET is not a valid secret '
                                 '(8 to 256 characters)')
        self.pipeline.add(self.src)
        self.src.connect('pad-added', self.on_pad_added)

        bus = self.pipeline.get_bus()
        # the media a stream has must be known when its first pad comes,
        # on a streaming thread: read otc-stream-created as it is posted
        bus.enable_sync_message_emission()
        bus.connect('sync-message::element', self.on_sync_message)
        bus.add_signal_watch()
        bus.connect('message', self.on_message)

    def say(self, text):
        print('[%6.2f s] %s' % (time.monotonic() - self.start, text),
              flush=True)

    # --- streaming threads ---------------------------------------------

    def on_sync_message(self, bus, msg):
        s = msg.get_structure()
        if s is not None and s.get_name() == 'otc-stream-created':
            media = []
            if s.get_value('has-video'):
                media.append('video')
            if s.get_value('has-audio'):
                media.append('audio')
            with self.lock:
                self.streams[s.get_string('stream-id')] = media

    def on_pad_added(self, element, pad):
        medium, _, stream_id = pad.get_name().partition('_')
        if medium not in ('video', 'audio'):
            return
        with self.lock:
            if self.quitting:
                return          # nothing new while finishing
            rec = self.recordings.get(stream_id)
            if rec is None:
                media = self.streams.get(stream_id, [medium])
                rec = Recording(self, stream_id, media)
                self.recordings[stream_id] = rec
                self.say('recording stream %s (%s) to %s' % (
                    stream_id, ' + '.join(media), rec.path))
            rec.add_pad(medium, pad)

    # --- main loop -----------------------------------------------------

    def remove_recording(self, rec):
        rec.remove()
        with self.lock:
            if self.recordings.get(rec.stream_id) is rec:
                del self.recordings[rec.stream_id]
            left = len(self.recordings)
        counts = ', '.join('%s %d' % kv for kv in sorted(rec.buffers.items()))
        self.say('finished %s (%s frames)' % (rec.path, counts or 'no'))
        self.done.append(rec.path)
        if self.quitting and left == 0:
            self.loop.quit()
        return GLib.SOURCE_REMOVE

    def on_message(self, bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT:
            self.log_otc_message(msg.get_structure())
        elif t == Gst.MessageType.ERROR:
            err, _ = msg.parse_error()
            self.say('ERROR from %s: %s' % (msg.src.get_name(), err.message))
            self.failed = True
            self.stop()
        elif t == Gst.MessageType.WARNING:
            err, _ = msg.parse_warning()
            self.say('warning from %s: %s' % (msg.src.get_name(),
                                               err.message))

    def log_otc_message(self, s):
        if s is None or not s.get_name().startswith('otc-'):
            return
        name = s.get_name()

        def get(field):
            return s.get_value(field) if s.has_field(field) else '?'

        if name == 'otc-session-connected':
            self.say('joined session %s as %s%s' % (
                get('session-id'), get('connection-id'),
                ', end-to-end encrypted (%s)' % get('cipher-suite')
                if s.get_value('e2ee') else ''))
        elif name == 'otc-stream-created':
            self.say('stream %s "%s" of connection %s' % (
                get('stream-id'), get('name'), get('connection-id')))
        elif name == 'otc-stream-destroyed':
            self.say('stream %s ended (%s)' % (get('stream-id'),
                                              get('reason')))
            self.end_recording(get('stream-id'))
        elif name == 'otc-stream-subscribed':
            self.say('subscribed to stream %s' % get('stream-id'))
        elif name == 'otc-stream-unsubscribed':
            self.say('the router ended the subscription to stream %s (%s)'
                     % (get('stream-id'), get('reason')))
            self.end_recording(get('stream-id'))
        elif name == 'otc-encryption-secret-mismatch':
            self.say('stream %s %s: frames do not decrypt with our secret; '
                     'nothing is recorded until they do' % (
                         get('stream-id'), get('media')))
        elif name == 'otc-encryption-secret-match':
            self.say('stream %s %s: decrypting again' % (get('stream-id'),
                                                         get('media')))
        elif s.has_field('code'):
            self.say('%s: %d %s' % (name, s.get_value('code'),
                                    get('message')))
            if name == 'otc-session-error' and s.has_field('stream-id'):
                self.end_recording(get('stream-id'))  # a failed subscription

    def end_recording(self, stream_id):
        # otcsrc has pushed EOS into the pads it had: a medium that was
        # announced but never came still needs one for webmmux to finish
        with self.lock:
            rec = self.recordings.get(stream_id)
        if rec is not None and not rec.finished:
            rec.end()

    def stop(self):
        """Finishes every file, then quits (or quits at once). As a signal
        handler it stays installed: a second SIGINT or SIGTERM while the
        files are finishing is ignored rather than killing the script
        (timeout(1) sends its signal to the script and again to its
        process group)."""
        if self.quitting:
            return GLib.SOURCE_CONTINUE
        with self.lock:
            self.quitting = True
            recs = list(self.recordings.values())
        if not recs:
            self.loop.quit()
            return GLib.SOURCE_CONTINUE
        self.say('finishing %d file(s)' % len(recs))
        for rec in recs:
            rec.end()
        GLib.timeout_add_seconds(FINISH_TIMEOUT_S, self.give_up)
        return GLib.SOURCE_CONTINUE

    def give_up(self):
        self.say('files not finished after %d s: stopping anyway'
                 % FINISH_TIMEOUT_S)
        self.failed = True
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def run(self):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.stop)
        # NULL->READY joins the session and fails when joining fails
        if self.pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            bus = self.pipeline.get_bus()
            while True:
                msg = bus.pop()
                if msg is None:
                    break
                self.on_message(bus, msg)
            self.pipeline.set_state(Gst.State.NULL)
            self.say('could not join')
            return 1
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        self.say('recorded %d file(s)%s' % (
            len(self.done), ': ' + ' '.join(self.done) if self.done else ''))
        return 1 if self.failed else 0


def main():
    parser = argparse.ArgumentParser(
        description='Records every stream of an otc session to '
        '<stream id>.webm, without re-encoding.',
        epilog='The secret comes from --secret-file or $OTC_SECRET.')
    parser.add_argument('--secret-file', '-f', metavar='FILE',
                        help='the end-to-end encryption secret '
                        '(default: $OTC_SECRET)')
    parser.add_argument('--dir', '-o', default='.',
                        help='where the files go, made if needed '
                        '(default: .)')
    parser.add_argument('url', help='the session server, e.g. '
                        'http://127.0.0.1:8080')
    parser.add_argument('token', help='a client token, or @FILE')
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    token = args.token
    if token.startswith('@'):
        with open(token[1:]) as f:
            token = f.read().strip()
    Gst.init(None)
    return Recorder(args, token).run()


if __name__ == '__main__':
    sys.exit(main())
