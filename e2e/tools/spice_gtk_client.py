#!/usr/bin/python3
"""A scriptable spice-gtk client for the end-to-end tests.

Built on SpiceClientGLib (the GLib half of spice-gtk: no window, no GTK), so
what reaches the server is exactly what spice-gtk's own channel code sends.
Run it with Debian's Python (it has gi and SpiceClientGLib 2.0):

    /usr/bin/python3 e2e/tools/spice_gtk_client.py --host 127.0.0.1 --port 5900 [--password S] [--timeout 20]

It connects, waits until the main and inputs channels are up and the display
channel has its primary surface, then prints one line

    {"ready":true,"width":W,"height":H,"mouseMode":M}

and reads commands from stdin, one JSON object per line, answering each with
one JSON line on stdout, in order: {"ok":true,...} or {"ok":false,"error":"..."}.
A command's "id", if given, is copied into its reply. Commands:

    {"cmd":"ping"}                              -> {"ok":true}
    {"cmd":"wait-display"}                      -> {"ok":true,"width":W,"height":H,"format":F}
    {"cmd":"mouse-mode"}                        -> {"ok":true,"mode":M}   (1 server, 2 client)
    {"cmd":"request-mouse-mode","mode":M}       -> {"ok":true,"mode":M}   once the server switched
    {"cmd":"key","scancode":K,"down":true}      -> {"ok":true,"code":C}   KEY_DOWN / KEY_UP
    {"cmd":"key-press-release","scancode":K}    -> {"ok":true,"code":C}   press+release in one call
    {"cmd":"key-locks","locks":L}               -> {"ok":true}            KEY_MODIFIERS (1 scroll, 2 num, 4 caps)
    {"cmd":"get-locks"}                         -> {"ok":true,"locks":L}  the server's last INIT/KEY_MODIFIERS
    {"cmd":"watch-frames"} / {"cmd":"frames"}    start / stop-and-report [[frame, epoch ms], …] as the barcode changes
    {"cmd":"cursor"}                            -> {"ok":true,"sets":N,"moves":N,"hides":N,"visible":B,"x":X,"y":Y,...}
    {"cmd":"motion","dx":DX,"dy":DY}            -> {"ok":true}            relative (server mouse mode)
    {"cmd":"position","x":X,"y":Y[,"display":0]} -> {"ok":true}           absolute (client mouse mode)
    {"cmd":"button","button":B,"down":true}     -> {"ok":true,"buttons":MASK}
    {"cmd":"screenshot","path":"/tmp/x.ppm"}    -> {"ok":true,"width":W,"height":H,"path":P}
    {"cmd":"wait-agent"}                        -> {"ok":true,"caps0":C}   once the agent's capabilities arrived
    {"cmd":"clipboard-grab","text":T}           -> {"ok":true}            grab (UTF-8); later requests get T
    {"cmd":"clipboard-requests"}                -> {"ok":true,"count":N}  requests for our grab answered so far
    {"cmd":"clipboard-wait-grab"}               -> {"ok":true,"types":[…]} the agent's next (or pending) grab
    {"cmd":"clipboard-request"}                 -> {"ok":true,"type":T,"text":S} the agent's UTF-8 clipboard
    {"cmd":"monitor-config","width":W,"height":H} -> {"ok":true,"sent":B} update_display + send_monitor_config
    {"cmd":"wait-primary","width":W,"height":H} -> {"ok":true,...}        once the primary surface has that size
    {"cmd":"file-copy","path":P}                -> {"ok":true}            once file_copy_async finished
    {"cmd":"playback"}                          -> {"ok":true,"starts":N,"stops":N,"playing":B,"format":F,
                                                    "channels":C,"rate":R,"bytes":N,"volume":[...],"mute":B,
                                                    "min_latency":MS}
    {"cmd":"record-playback","path":P,"ms":N}   -> {"ok":true,"bytes":N,"channels":C,"rate":R} once N ms of
                                                   playback-data (S16 PCM, decoded from Opus if it came so)
                                                   arrived after the command; written raw to P
    {"cmd":"watch-playback"} / {"cmd":"playback-arrivals"}  start / stop-and-report [[epoch ms, bytes], …],
                                                   one per playback-data since the latest playback-start
    {"cmd":"record"}                            -> {"ok":true,"starts":N,"stops":N,"capturing":B,"channels":C,"rate":R}
    {"cmd":"record-send","hz":H,"ms":N}         -> {"ok":true,"bytes":N} after sending N ms of a sine of H Hz
                                                   as microphone audio (spice_record_channel_send_data)
    {"cmd":"watch-av","probe":[X,Y,W,H]}        start recording media times (needs --media-times; see below)
    {"cmd":"av-events"}                         -> {"ok":true,"clock":[…],"frames":[…],"shown":[…],
                                                    "packets":[…],"anchors":[…],"drops":N} and stop
    {"cmd":"quit"}                              -> {"ok":true}, then exit 0 (so does EOF on stdin)

With --audio the session enables audio and the playback channel is
connected like the others (no audio device is opened: what spice-gtk
decodes is only counted and recorded, from its playback-* signals).

With --media-times MS the script reads spice-gtk's own media times, which
no signal carries, from its debug log (turned on for this and handled here,
not printed): "set mm time: X" whenever the session clock is set (MAIN_INIT,
MULTI_MEDIA_TIME, and spice_playback_channel_set_delay, which sets it to the
last DATA's time minus the delay) and "video margin: M" / "stream data too
late by … (ts: T, mmtime: C)" for each STREAM_DATA (M = its time minus the
session clock). And it acts as an audio backend whose output lags MS ms: on
each playback-get-delay (every 100th DATA) it calls set_delay(MS), as
spice-gtk's GStreamer backend does once a second, so the session clock runs
on the audio, as in remote-viewer with sound. watch-av then records, until
av-events, with times in ms of GLib's monotonic clock (spice-gtk's):
"clock" [[t, X], …] each setting of the session clock; "frames" [[t, mm,
margin], …] per STREAM_DATA (mm its media time); "shown" [[t, level], …]
per redraw touching the probe rectangle (level: its mean of R, G and B,
0..255); "packets" [[t, bytes, onset, peak], …] per playback-data (onset:
the first frame whose left sample reaches 1/8 of full scale, -1 if none;
peak: the largest |left sample|); "anchors" [[k, time], …] the DATA time
of packet k (an index into packets) from each set_delay; "drops" the stream
frames spice-gtk dropped as too late to show. "epochOffset" turns t into
epoch ms (t + epochOffset).

Scancodes are PC AT set-1 make codes. K may be a number or a string such as
"0x1e"; an 0xE0-prefixed key is given either as 0xE0xx (e.g. 0xE04B for Left),
as a list [0xE0, 0x4B], or in spice-gtk's own form 0x1xx (0x14B). C in the
reply is the spice-gtk form that was passed to the inputs channel. Release
codes are never given: spice-gtk sets bit 7 itself.

Buttons are SPICE button codes (1 left, 2 middle, 3 right, 4 wheel up,
5 wheel down). The script keeps the button mask the way spicy does: a press
of 1-3 sets its bit, a release clears it, wheel buttons never have a bit;
motion and position carry the current mask. "buttons" in a button reply is
the mask after the event, as spice-gtk sent it.

Input commands are answered after spice-gtk has written its messages to the
socket (the channel is flushed first). Motion and position beyond spice-gtk's
window of 8 unacknowledged messages are coalesced by spice-gtk and sent when
the server's MOUSE_MOTION_ACK arrives, as in any spice-gtk client.

Exit status: 0 after quit/EOF; 2 when the connection or authentication fails
(a channel-event error, or the main channel closing before ready); 3 when
--timeout expires before ready; 1 when the connection is lost later or on an
internal error. The reason is always printed on stderr.
"""

import argparse
import ctypes
import json
import math
import os
import time
import sys

import gi

gi.require_version('SpiceClientGLib', '2.0')
from gi.repository import Gio, GLib, GObject, SpiceClientGLib as Spice  # noqa: E402

PROG = 'spice_gtk_client'

# SPICE_SURFACE_FMT_*: both 32-bit formats are B,G,R,X/A bytes in memory.
FMT_32_XRGB = 32
FMT_32_ARGB = 96

# SPICE_MOUSE_BUTTON_MASK_* bits spice-gtk adds/clears for these buttons.
BUTTON_MASK = {1: 1 << 0, 2: 1 << 1, 3: 1 << 2, 6: 1 << 5, 7: 1 << 6}

EVENT_ERRORS = {
    'SPICE_CHANNEL_ERROR_CONNECT': 'could not connect',
    'SPICE_CHANNEL_ERROR_TLS': 'TLS error',
    'SPICE_CHANNEL_ERROR_LINK': 'link failed',
    'SPICE_CHANNEL_ERROR_AUTH': 'authentication failed',
    'SPICE_CHANNEL_ERROR_IO': 'I/O error',
}


class CommandError(Exception):
    pass


def to_int(value, name):
    if isinstance(value, bool):
        raise CommandError(f'{name}: expected a number, got {value!r}')
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise CommandError(f'{name}: expected a number, got {value!r}')


def spice_scancode(value):
    """PC AT set-1 make code (0x1E, 0xE04B, [0xE0, 0x4B], 0x14B) -> spice-gtk's form (0x1E, 0x14B)."""
    if isinstance(value, list):
        codes = [to_int(v, 'scancode') for v in value]
        if len(codes) == 1 and 0 < codes[0] < 0x80:
            return codes[0]
        if len(codes) == 2 and codes[0] == 0xE0 and 0 < codes[1] < 0x80:
            return 0x100 | codes[1]
        raise CommandError(f'scancode: unsupported byte sequence {value!r}')
    code = to_int(value, 'scancode')
    if 0 < code < 0x80:
        return code
    if 0xE000 < code < 0xE080:
        return 0x100 | (code & 0xFF)
    if 0x100 < code < 0x180:
        return code
    raise CommandError(f'scancode: unsupported value {value!r} (make codes only)')


class Client:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.exit_code = 0
        self.main = None
        self.inputs = None
        self.display = None
        self.ready = False
        self.main_open = False
        self.inputs_open = False
        self.primary = None  # (format, width, height, stride, data pointer)
        self.marked = False
        self.buttons = 0
        self.queue = []
        self.busy = False
        self.stdin_buf = b''
        self.stdin_watch = None
        self.mode_waiters = []
        # Conditions a command waits on: (check() -> reply or None, done, timer id).
        self.waiters = []
        self.clip_text = None
        self.clip_requests = 0
        self.agent_grab = None  # types of the agent's last grab not yet consumed
        self.clip_waiting = []  # done() of clipboard-request commands, in order

        self.session = Spice.Session()
        self.session.set_property('host', args.host)
        self.session.set_property('port', str(args.port))
        if args.password is not None:
            self.session.set_property('password', args.password)
        self.session.set_property('enable-audio', bool(args.audio))
        self.session.set_property('enable-usbredir', False)
        self.media_delay = args.media_times
        if self.media_delay is not None:
            levels = GLib.LogLevelFlags.LEVEL_DEBUG
            GLib.log_set_handler('GSpice', levels, self.on_spice_debug, None)
            # Other domains' debug output (GStreamer probing) would only fill stderr.
            GLib.log_set_handler('Spice', levels, lambda *_: None, None)
            Spice.util_set_debug(True)
        GObject.Object.connect(self.session, 'channel-new', self.on_channel_new)
        GObject.Object.connect(self.session, 'disconnected', self.on_disconnected)

    # ---- lifecycle ---------------------------------------------------------

    def run(self):
        self.timeout_id = GLib.timeout_add(int(self.args.timeout * 1000), self.on_timeout)
        if not self.session.connect():
            self.fail(2, f'cannot start connecting to {self.args.host}:{self.args.port}')
            return 2
        self.loop.run()
        return self.exit_code

    def fail(self, code, message):
        sys.stderr.write(f'{PROG}: {message}\n')
        sys.stderr.flush()
        self.exit_code = code
        if self.loop.is_running():
            self.loop.quit()

    def finish(self):
        # The sockets close when the process exits; disconnecting first would
        # only raise channel-closed events on the way out.
        self.exit_code = 0
        self.loop.quit()

    def on_timeout(self):
        self.timeout_id = None
        if not self.ready:
            missing = []
            if not self.main_open:
                missing.append('main channel')
            if not self.inputs_open:
                missing.append('inputs channel')
            if self.primary is None:
                missing.append('display primary surface')
            self.fail(3, f'timed out after {self.args.timeout:g} s waiting for {", ".join(missing)} '
                         f'({self.args.host}:{self.args.port})')
        return False

    def on_disconnected(self, _session):
        if self.exit_code == 0 and self.loop.is_running():
            self.fail(1 if self.ready else 2, 'session disconnected')

    # ---- channels ----------------------------------------------------------

    def on_channel_new(self, _session, channel):
        GObject.Object.connect(channel, 'channel-event', self.on_channel_event)
        if isinstance(channel, Spice.MainChannel):
            self.main = channel
            GObject.Object.connect(channel, 'notify::mouse-mode', self.on_mouse_mode)
            GObject.Object.connect(channel, 'main-agent-update', lambda *_: self.check_waiters())
            GObject.Object.connect(channel, 'main-clipboard-selection-grab', self.on_agent_grab)
            GObject.Object.connect(channel, 'main-clipboard-selection', self.on_agent_clipboard)
            GObject.Object.connect(channel, 'main-clipboard-selection-request', self.on_agent_request)
        elif isinstance(channel, Spice.InputsChannel):
            self.inputs = channel
        elif isinstance(channel, Spice.CursorChannel):
            GObject.Object.connect(channel, 'cursor-set', self.on_cursor_set)
            GObject.Object.connect(channel, 'cursor-move', self.on_cursor_move)
            GObject.Object.connect(channel, 'cursor-hide', self.on_cursor_hide)
        elif isinstance(channel, Spice.RecordChannel):
            self.record = channel
            GObject.Object.connect(channel, 'record-start', self.on_record_start)
            GObject.Object.connect(channel, 'record-stop', self.on_record_stop)
        elif isinstance(channel, Spice.PlaybackChannel):
            self.playback = channel
            GObject.Object.connect(channel, 'playback-start', self.on_playback_start)
            GObject.Object.connect(channel, 'playback-data', self.on_playback_data)
            GObject.Object.connect(channel, 'playback-stop', self.on_playback_stop)
            if self.args.media_times is not None:
                GObject.Object.connect(channel, 'playback-get-delay', self.on_playback_get_delay)
        elif isinstance(channel, Spice.DisplayChannel) and channel.get_property('channel-id') == 0:
            self.display = channel
            GObject.Object.connect(channel, 'display-primary-create', self.on_primary_create)
            GObject.Object.connect(channel, 'display-primary-destroy', self.on_primary_destroy)
            GObject.Object.connect(channel, 'display-mark', self.on_mark)
            GObject.Object.connect(channel, 'display-invalidate', self.on_invalidate)
        if not isinstance(channel, Spice.MainChannel):
            # The application connects the channels the main channel announces (as spicy does).
            Spice.Channel.connect(channel)

    # Cursor channel: what spice-gtk reports (its cursor-set/-move/-hide signals), counted.
    cursor = {'sets': 0, 'moves': 0, 'hides': 0, 'visible': False, 'x': None, 'y': None,
              'width': 0, 'height': 0, 'hotX': 0, 'hotY': 0}

    def on_cursor_set(self, _channel, width, height, hot_x, hot_y, _rgba):
        self.cursor = dict(self.cursor, sets=self.cursor['sets'] + 1, visible=True,
                           width=width, height=height, hotX=hot_x, hotY=hot_y)

    def on_cursor_move(self, _channel, x, y):
        self.cursor = dict(self.cursor, moves=self.cursor['moves'] + 1, x=x, y=y)

    def on_cursor_hide(self, _channel):
        self.cursor = dict(self.cursor, hides=self.cursor['hides'] + 1, visible=False)

    def cmd_cursor(self, _cmd, done):
        done(dict(self.cursor))

    # Playback channel: what spice-gtk hands an audio backend (playback-start/-data/-stop).
    playback = None
    audio = {'starts': 0, 'stops': 0, 'playing': False, 'format': 0, 'channels': 0, 'rate': 0, 'bytes': 0}
    recording = None  # (bytearray, bytes wanted, path, done) while record-playback waits

    arrivals = None  # [[epoch ms, bytes], …] while watching playback

    def cmd_watch_playback(self, _cmd, done):
        self.arrivals = []
        done()

    def cmd_playback_arrivals(self, _cmd, done):
        arrivals, self.arrivals = self.arrivals or [], None
        done({'arrivals': arrivals})

    def on_playback_start(self, _channel, fmt, channels, rate):
        if self.arrivals is not None:
            self.arrivals = []  # count from this START: its first data is packet 0
        self.audio = dict(self.audio, starts=self.audio['starts'] + 1, playing=True,
                          format=fmt, channels=channels, rate=rate)

    def on_playback_stop(self, _channel):
        self.audio = dict(self.audio, stops=self.audio['stops'] + 1, playing=False)

    def on_playback_data(self, _channel, data, size):
        self.audio['bytes'] += size
        if self.av is not None:
            self.av_packet(data, size)
        if self.arrivals is not None:
            self.arrivals.append([time.time() * 1000.0, size])
        if self.recording is None or not data or size <= 0:
            return
        buf, want, path, done = self.recording
        buf += ctypes.string_at(data, size)
        if len(buf) >= want:
            self.recording = None
            with open(path, 'wb') as f:
                f.write(buf)
            done({'bytes': len(buf), 'channels': self.audio['channels'], 'rate': self.audio['rate']})

    # Record channel: the server asks for the microphone (record-start); record-send plays one.
    record = None
    mic = {'starts': 0, 'stops': 0, 'capturing': False, 'channels': 0, 'rate': 0}

    def on_record_start(self, _channel, _fmt, channels, rate):
        self.mic = dict(self.mic, starts=self.mic['starts'] + 1, capturing=True, channels=channels, rate=rate)

    def on_record_stop(self, _channel):
        self.mic = dict(self.mic, stops=self.mic['stops'] + 1, capturing=False)

    def cmd_record(self, _cmd, done):
        if self.record is None:
            raise CommandError('no record channel (start with --audio; the server must offer one)')
        done(dict(self.mic))

    def cmd_record_send(self, cmd, done):
        if not self.mic['capturing']:
            raise CommandError('the server has not asked for the microphone (no record-start)')
        hz = float(cmd.get('hz', 440))
        ms = to_int(cmd.get('ms'), 'ms')
        rate, channels = self.mic['rate'], self.mic['channels']
        frames = rate * ms // 1000
        chunk = rate // 100  # 10 ms, as an audio backend captures
        sent = 0
        for start in range(0, frames, chunk):
            n = min(chunk, frames - start)
            buf = (ctypes.c_int16 * (n * channels))()
            for i in range(n):
                v = int(8000 * math.sin(2 * math.pi * hz * (start + i) / rate))
                for c in range(channels):
                    buf[i * channels + c] = v
            self.record.send_data(ctypes.addressof(buf), ctypes.sizeof(buf), int(time.time() * 1000) & 0xffffffff)
            sent += ctypes.sizeof(buf)
        self.flushed(self.record, done, {'bytes': sent})

    def playback_volume(self):
        """The levels spice-gtk took from the last VOLUME (its "volume" property, a guint16 array)."""
        n = self.playback.get_property('nchannels')
        ptr = self.playback.get_property('volume')
        if not n or not ptr:
            return []
        return list((ctypes.c_uint16 * n).from_address(ptr))

    def cmd_playback(self, _cmd, done):
        if self.playback is None:
            raise CommandError('no playback channel (start with --audio; the server must offer one)')
        done(dict(self.audio, volume=self.playback_volume(), mute=bool(self.playback.get_property('mute')),
                  min_latency=int(self.playback.get_property('min-latency'))))

    def cmd_record_playback(self, cmd, done):
        path = cmd.get('path')
        if not isinstance(path, str) or not path:
            raise CommandError('path: expected a file name')
        ms = to_int(cmd.get('ms'), 'ms')
        if not self.audio['playing']:
            raise CommandError('playback has not started')
        want = self.audio['rate'] * self.audio['channels'] * 2 * ms // 1000
        self.recording = (bytearray(), want, path, done)

    def channel_name(self, channel):
        kind = type(channel).__name__.replace('Channel', '').lower() or 'channel'
        return f'{kind} channel {channel.get_property("channel-id")}'

    def on_channel_event(self, channel, event):
        nick = event.value_name if hasattr(event, 'value_name') else str(event)
        if nick in EVENT_ERRORS:
            detail = ''
            err = channel.get_error()
            if err is not None:
                detail = f': {err.message}'
            code = 2 if not self.ready else 1
            self.fail(code, f'{self.channel_name(channel)}: {EVENT_ERRORS[nick]}{detail} '
                            f'({self.args.host}:{self.args.port})')
            return
        if nick == 'SPICE_CHANNEL_OPENED':
            if channel is self.main:
                self.main_open = True
            elif channel is self.inputs:
                self.inputs_open = True
            self.check_ready()
        elif nick == 'SPICE_CHANNEL_CLOSED':
            if channel is self.main or channel is self.inputs or channel is self.display:
                if self.exit_code == 0 and self.loop.is_running():
                    self.fail(2 if not self.ready else 1, f'{self.channel_name(channel)} closed by the server')

    def on_primary_create(self, _channel, fmt, width, height, stride, _shmid, data):
        self.primary = (fmt, width, height, stride, data)
        self.check_ready()
        self.check_waiters()

    def on_primary_destroy(self, _channel):
        self.primary = None
        self.marked = False

    def on_mark(self, _channel, mark):
        self.marked = bool(mark)
        self.check_waiters()

    # ---- agent: waiting on conditions, clipboard ----------------------------

    def wait_for(self, check, done, ms, what):
        """Answers with check()'s reply as soon as it is not None; an error after ms."""
        reply = check()
        if reply is not None:
            done(reply)
            return

        def expire():
            self.waiters = [w for w in self.waiters if w[2] != timer]
            done(error=f'timed out after {ms} ms waiting for {what}')
            return False

        timer = GLib.timeout_add(ms, expire)
        self.waiters.append((check, done, timer))

    def check_waiters(self):
        waiters, self.waiters = self.waiters, []
        for check, done, timer in waiters:
            reply = check()
            if reply is None:
                self.waiters.append((check, done, timer))
            else:
                GLib.source_remove(timer)
                done(reply)

    def on_agent_grab(self, _channel, selection, types, ntypes):
        if selection == 0:
            # PyGObject hands the guint32 array over as a list already.
            self.agent_grab = list(types)[:ntypes]
            self.check_waiters()
        return True

    def on_agent_clipboard(self, _channel, selection, ctype, data, size):
        if selection != 0 or not self.clip_waiting:
            return
        raw = ctypes.string_at(data, size) if size else b''
        self.clip_waiting.pop(0)({'type': ctype, 'text': raw.decode('utf-8', 'replace')})

    def on_agent_request(self, channel, selection, ctype):
        if selection != 0 or self.clip_text is None or ctype != 1:
            return False
        self.clip_requests += 1
        channel.clipboard_selection_notify(0, 1, list(self.clip_text.encode('utf-8')))
        self.check_waiters()
        return True

    def on_mouse_mode(self, _channel, _pspec):
        mode = self.main.get_property('mouse-mode')
        waiters, self.mode_waiters = self.mode_waiters, []
        for want, done, timer in waiters:
            if mode == want:
                GLib.source_remove(timer)
                done({'mode': mode})
            else:
                self.mode_waiters.append((want, done, timer))

    def check_ready(self):
        if self.ready or not (self.main_open and self.inputs_open and self.primary is not None):
            return
        self.ready = True
        if self.timeout_id is not None:
            GLib.source_remove(self.timeout_id)
            self.timeout_id = None
        fmt, width, height, _stride, _data = self.primary
        self.write({'ready': True, 'width': width, 'height': height, 'format': fmt,
                    'mouseMode': self.main.get_property('mouse-mode')})
        flags = GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR
        self.stdin_watch = GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, flags, self.on_stdin)

    # ---- command loop ------------------------------------------------------

    def write(self, obj):
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()

    def on_stdin(self, fd, _condition):
        try:
            chunk = os.read(fd, 65536)
        except OSError as e:
            self.fail(1, f'reading stdin: {e}')
            return False
        if not chunk:
            self.queue.append(None)  # EOF: quit once earlier commands are answered
            self.pump()
            self.stdin_watch = None
            return False
        self.stdin_buf += chunk
        while b'\n' in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b'\n', 1)
            if line.strip():
                self.queue.append(line)
        self.pump()
        return True

    def pump(self):
        while not self.busy and self.queue:
            line = self.queue.pop(0)
            if line is None:
                self.finish()
                return
            self.busy = True
            self.dispatch(line)

    def dispatch(self, line):
        cmd_id = None
        answered = False

        def done(reply=None, error=None):
            nonlocal answered
            if answered:
                return
            answered = True
            out = {'ok': error is None}
            if error is not None:
                out['error'] = error
            if reply:
                out.update(reply)
            if cmd_id is not None:
                out['id'] = cmd_id
            self.write(out)
            self.busy = False
            GLib.idle_add(self.pump_idle)

        try:
            try:
                cmd = json.loads(line)
            except ValueError as e:
                raise CommandError(f'not JSON: {e}')
            if not isinstance(cmd, dict) or not isinstance(cmd.get('cmd'), str):
                raise CommandError('expected an object with a string "cmd"')
            cmd_id = cmd.get('id')
            handler = getattr(self, 'cmd_' + cmd['cmd'].replace('-', '_'), None)
            if handler is None:
                raise CommandError(f'unknown command {cmd["cmd"]!r}')
            handler(cmd, done)
        except CommandError as e:
            done(error=str(e))
        except Exception as e:  # an internal error is reported, not fatal
            done(error=f'{type(e).__name__}: {e}')

    def pump_idle(self):
        self.pump()
        return False

    def flushed(self, channel, done, reply=None):
        """Answers once spice-gtk has written everything queued on the channel."""

        def on_flush(ch, result, _data):
            try:
                ch.flush_finish(result)
            except GLib.Error as e:
                done(error=f'flush failed: {e.message}')
                return
            done(reply)

        channel.flush_async(None, on_flush, None)

    # ---- commands ----------------------------------------------------------

    def cmd_ping(self, _cmd, done):
        done()

    def cmd_quit(self, _cmd, done):
        done()
        self.queue.insert(0, None)

    def cmd_wait_display(self, _cmd, done):
        fmt, width, height, _stride, _data = self.primary
        done({'width': width, 'height': height, 'format': fmt})

    def cmd_mouse_mode(self, _cmd, done):
        done({'mode': self.main.get_property('mouse-mode')})

    def cmd_request_mouse_mode(self, cmd, done):
        mode = to_int(cmd.get('mode'), 'mode')
        if mode not in (1, 2):
            raise CommandError('mode: expected 1 (server) or 2 (client)')
        if self.main.get_property('mouse-mode') == mode:
            done({'mode': mode})
            return
        ms = int(cmd.get('timeoutMs', 5000))

        def expire():
            self.mode_waiters = [w for w in self.mode_waiters if w[2] != timer]
            done(error=f'mouse mode stayed {self.main.get_property("mouse-mode")} for {ms} ms')
            return False

        timer = GLib.timeout_add(ms, expire)
        self.mode_waiters.append((mode, done, timer))
        self.main.request_mouse_mode(mode)

    def cmd_key(self, cmd, done):
        code = spice_scancode(cmd.get('scancode'))
        if not isinstance(cmd.get('down'), bool):
            raise CommandError('down: expected true or false')
        if cmd['down']:
            self.inputs.key_press(code)
        else:
            self.inputs.key_release(code)
        self.flushed(self.inputs, done, {'code': code})

    def cmd_key_press_release(self, cmd, done):
        code = spice_scancode(cmd.get('scancode'))
        self.inputs.key_press_and_release(code)
        self.flushed(self.inputs, done, {'code': code})

    def cmd_get_locks(self, _cmd, done):
        # What the server last told this client about the guest's locks (INIT / KEY_MODIFIERS).
        done({'locks': self.inputs.get_property('key-modifiers')})

    def cmd_key_locks(self, cmd, done):
        self.inputs.set_key_locks(to_int(cmd.get('locks'), 'locks'))
        self.flushed(self.inputs, done)

    def cmd_motion(self, cmd, done):
        dx = to_int(cmd.get('dx'), 'dx')
        dy = to_int(cmd.get('dy'), 'dy')
        self.inputs.motion(dx, dy, self.buttons)
        self.flushed(self.inputs, done)

    def cmd_position(self, cmd, done):
        x = to_int(cmd.get('x'), 'x')
        y = to_int(cmd.get('y'), 'y')
        display = to_int(cmd.get('display', 0), 'display')
        self.inputs.position(x, y, display, self.buttons)
        self.flushed(self.inputs, done)

    def cmd_button(self, cmd, done):
        button = to_int(cmd.get('button'), 'button')
        if not 1 <= button <= 7:
            raise CommandError('button: expected 1..7')
        if not isinstance(cmd.get('down'), bool):
            raise CommandError('down: expected true or false')
        bit = BUTTON_MASK.get(button, 0)
        if cmd['down']:
            self.inputs.button_press(button, self.buttons)
            self.buttons |= bit
        else:
            self.inputs.button_release(button, self.buttons)
            self.buttons &= ~bit
        self.flushed(self.inputs, done, {'buttons': self.buttons})

    # Frame watching (benchmarks): the barcode's frame number each time its area is redrawn.
    watching = None  # list of [frame, epoch ms] while watching

    def on_invalidate(self, _channel, x, y, w, h):
        if self.av is not None:
            self.av_shown(x, y, w, h)
        if self.watching is None or y >= 8 or x >= 256:
            return
        fmt, width, _height, stride, data = self.current_primary()
        if not data or width < 256:
            return
        row = ctypes.string_at(data + 4 * stride, 256 * 4)
        frame = 0
        for i in range(32):
            if row[(i * 8 + 4) * 4 + 1] > 0x80:  # green channel of the cell's centre
                frame |= 1 << i
        if not self.watching or self.watching[-1][0] != frame:
            self.watching.append([frame, time.time() * 1000.0])

    def cmd_watch_frames(self, _cmd, done):
        self.watching = []
        done()

    def cmd_frames(self, _cmd, done):
        frames, self.watching = self.watching or [], None
        done({'frames': frames})

    def cmd_screenshot(self, cmd, done):
        path = cmd.get('path')
        if not isinstance(path, str) or not path:
            raise CommandError('path: expected a file name')
        fmt, width, height, stride, data = self.current_primary()
        if fmt not in (FMT_32_XRGB, FMT_32_ARGB):
            raise CommandError(f'unsupported surface format {fmt}')
        if not data:
            raise CommandError('the primary surface has no data')
        raw = ctypes.string_at(data, stride * height)
        rgb = bytearray(width * height * 3)
        if stride == width * 4:
            rgb[0::3] = raw[2::4]
            rgb[1::3] = raw[1::4]
            rgb[2::3] = raw[0::4]
        else:
            row_bytes = width * 3
            for y in range(height):
                row = raw[y * stride:y * stride + width * 4]
                o = y * row_bytes
                rgb[o:o + row_bytes:3] = row[2::4]
                rgb[o + 1:o + row_bytes:3] = row[1::4]
                rgb[o + 2:o + row_bytes:3] = row[0::4]
        tmp = path + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(b'P6\n%d %d\n255\n' % (width, height))
            f.write(rgb)
        os.replace(tmp, path)
        done({'width': width, 'height': height, 'path': path})

    def cmd_wait_agent(self, cmd, done):
        def check():
            caps = self.main.get_property('agent-caps-0')
            return {'caps0': caps} if self.main.get_property('agent-connected') and caps else None
        self.wait_for(check, done, int(cmd.get('timeoutMs', 10000)), 'the agent and its capabilities')

    def cmd_clipboard_grab(self, cmd, done):
        text = cmd.get('text')
        if not isinstance(text, str):
            raise CommandError('text: expected a string')
        self.clip_text = text
        self.main.clipboard_selection_grab(0, [1])
        self.flushed(self.main, done)

    def cmd_clipboard_requests(self, _cmd, done):
        done({'count': self.clip_requests})

    def cmd_clipboard_wait_grab(self, cmd, done):
        def check():
            if self.agent_grab is None:
                return None
            types, self.agent_grab = self.agent_grab, None
            return {'types': types}
        self.wait_for(check, done, int(cmd.get('timeoutMs', 10000)), "the agent's clipboard grab")

    def cmd_clipboard_request(self, _cmd, done):
        self.clip_waiting.append(done)
        self.main.clipboard_selection_request(0, 1)

    def cmd_monitor_config(self, cmd, done):
        width = to_int(cmd.get('width'), 'width')
        height = to_int(cmd.get('height'), 'height')
        self.main.update_display_enabled(0, True, False)
        self.main.update_display(0, 0, 0, width, height, False)
        sent = self.main.send_monitor_config()
        self.flushed(self.main, done, {'sent': bool(sent)})

    def cmd_wait_primary(self, cmd, done):
        width = to_int(cmd.get('width'), 'width')
        height = to_int(cmd.get('height'), 'height')

        def check():
            if self.primary is None or not self.marked:
                return None
            fmt, w, h, _stride, _data = self.current_primary()
            return {'width': w, 'height': h, 'format': fmt} if (w, h) == (width, height) else None
        self.wait_for(check, done, int(cmd.get('timeoutMs', 10000)), f'a {width}x{height} primary surface')

    def cmd_file_copy(self, cmd, done):
        path = cmd.get('path')
        if not isinstance(path, str) or not path:
            raise CommandError('path: expected a file name')

        def on_done(channel, result, *_):
            try:
                channel.file_copy_finish(result)
            except GLib.Error as e:
                done(error=f'file copy failed: {e.message}')
                return
            done()

        # No progress callback: spice-gtk 0.42 never calls it through PyGObject.
        self.main.file_copy_async([Gio.File.new_for_path(path)], Gio.FileCopyFlags.NONE, None, None, None, on_done, None)

    # ---- media times (benchmarks): what spice-gtk stamps and presents ------

    av = None  # the recording while watch-av runs
    mm_set = None  # (monotonic µs, X): the session clock's last setting
    mm_sets = []  # [[t ms, X], …] every setting (kept from the start: MAIN_INIT's comes first)
    av_drops = 0

    def session_mm(self, now_us):
        """spice_session_get_mm_time() now: it counts on from its last setting on the same clock."""
        if self.mm_set is None:
            return None
        at, x = self.mm_set
        return (x + (now_us - at) // 1000) & 0xffffffff

    def on_spice_debug(self, _domain, _level, message, _data):
        now = GLib.get_monotonic_time()
        i = message.find('set mm time: ')
        if i >= 0:
            x = int(message[i + 13:].split()[0])
            self.mm_set = (now, x)
            self.mm_sets.append([now / 1000.0, x])
            return
        if self.av is None:
            return
        i = message.find('video margin: ')
        # Not "video margin: M, set to 0 since there is no playback": the plain line follows it.
        if i >= 0 and message[i + 14:].lstrip('-').isdigit():
            margin = int(message[i + 14:])
            mm = self.session_mm(now)
            self.av['frames'].append([now / 1000.0, None if mm is None else (mm + margin) & 0xffffffff, margin])
            return
        i = message.find('stream data too late by ')
        if i >= 0:
            # "... (ts: T, mmtime: C)": both times are given.
            ts = int(message.split('(ts: ')[1].split(',')[0])
            cur = int(message.split('mmtime: ')[1].rstrip(')').split(')')[0])
            self.av['frames'].append([now / 1000.0, ts, ts - cur])
            return
        if 'rendering too late by' in message or 'dropping a late MJPEG frame' in message:
            self.av_drops += 1

    def on_playback_get_delay(self, channel):
        # An audio backend reports its output delay here; set_delay logs the clock it sets.
        before = len(self.mm_sets)
        channel.set_delay(self.media_delay)
        if self.av is not None and len(self.mm_sets) > before and self.av['packets']:
            self.av['anchors'].append([len(self.av['packets']) - 1, (self.mm_sets[-1][1] + self.media_delay) & 0xffffffff])

    def av_packet(self, data, size):
        onset, peak = -1, 0
        if data and size > 0:
            pcm = (ctypes.c_int16 * (size // 2)).from_address(data)
            left = pcm[0::max(1, self.audio['channels'])]
            peak = max(max(left), -min(left))
            if peak >= 4096:
                onset = next(i for i, v in enumerate(left) if v >= 4096 or v <= -4096)
        self.av['packets'].append([GLib.get_monotonic_time() / 1000.0, size, onset, peak])

    def av_shown(self, x, y, w, h):
        px, py, pw, ph = self.av['probe']
        if x >= px + pw or y >= py + ph or x + w <= px or y + h <= py:
            return
        _fmt, width, _height, stride, data = self.current_primary()
        if not data or px + pw > width:
            return
        total = 0
        for row in range(py, py + ph):
            line = ctypes.string_at(data + row * stride + px * 4, pw * 4)
            total += sum(line) - sum(line[3::4])  # B, G, R; not the X byte
        self.av['shown'].append([GLib.get_monotonic_time() / 1000.0, total / (pw * ph * 3)])

    def cmd_watch_av(self, cmd, done):
        if self.media_delay is None:
            raise CommandError('watch-av: start the script with --media-times MS')
        probe = cmd.get('probe')
        if not (isinstance(probe, list) and len(probe) == 4 and all(isinstance(v, int) and v >= 0 for v in probe) and probe[2] and probe[3]):
            raise CommandError('probe: expected [x, y, width, height] in surface pixels')
        self.av_drops = 0
        self.av = {'probe': probe, 'frames': [], 'shown': [], 'packets': [], 'anchors': []}
        done()

    def cmd_av_events(self, _cmd, done):
        av, self.av = self.av, None
        if av is None:
            raise CommandError('av-events: no watch-av running')
        del av['probe']
        av['clock'] = list(self.mm_sets)
        av['drops'] = self.av_drops
        av['epochOffset'] = time.time() * 1000.0 - GLib.get_monotonic_time() / 1000.0
        done(av)

    def current_primary(self):
        """The primary surface as spice-gtk holds it now (get_primary), else what primary-create gave."""
        primary = Spice.DisplayPrimary()
        try:
            if self.display.get_primary(0, primary) and primary.data:
                return (primary.format, primary.width, primary.height, primary.stride, primary.data)
        except (AttributeError, TypeError):
            pass
        if self.primary is None:
            raise CommandError('no primary surface')
        return self.primary


def main():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--password', default=None)
    parser.add_argument('--audio', action='store_true',
                        help='enable audio: connect the playback channel and record what it decodes')
    parser.add_argument('--media-times', type=int, default=None, metavar='MS',
                        help="read spice-gtk's media times from its debug log and act as an audio "
                             'backend lagging MS ms (for watch-av)')
    parser.add_argument('--timeout', type=float, default=20.0,
                        help='seconds to wait for the connection to be ready (default 20)')
    args = parser.parse_args()
    try:
        code = Client(args).run()
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: spice-gtk's coroutines and GObject finalizers
    # have nothing left to do and can only make a clean exit noisy.
    os._exit(code)


if __name__ == '__main__':
    main()
