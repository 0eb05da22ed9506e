import asyncio
import base64
import json
import secrets
import sys
import time
import wave
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.core.management.base import BaseCommand, CommandError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from detection.engine import audio
from detection.streams import twilio_signature

FRAME_S = audio.FRAME_MS / 1000
OK_CLOSE_CODES = {1000, 1005}  # a normal close, or one without a status code
CLOSE_WAIT_S = 15.0  # after 'stop', how long to wait for the server's last events and close


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def twilio_messages(ulaw: bytes, account_sid: str, call_sid: str, stream_sid: str, parameters: dict):
    """Twilio Media Streams messages for one call, as Twilio sends them (numbers as strings)."""
    yield {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    yield {
        "event": "start", "sequenceNumber": "1",
        "start": {
            "accountSid": account_sid, "streamSid": stream_sid, "callSid": call_sid, "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": stream_sid,
    }
    sequence = 1
    for chunk, (payload, timestamp) in enumerate(audio.frames(ulaw), start=1):
        sequence += 1
        yield {
            "event": "media", "sequenceNumber": str(sequence),
            "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(timestamp),
                      "payload": base64.b64encode(payload).decode()},
            "streamSid": stream_sid,
        }
    yield {"event": "stop", "sequenceNumber": str(sequence + 1),
           "stop": {"accountSid": account_sid, "callSid": call_sid}, "streamSid": stream_sid}


class Command(BaseCommand):
    help = ("Stream an audio file to an AMD server exactly as Twilio Media Streams would and print the events "
            "received as JSON lines; exits non-zero if the server closes with an error.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="WAV (any common rate) or raw 8 kHz μ-law.")
        parser.add_argument("--url", required=True, help="e.g. ws://127.0.0.1:8000/v1/amd/stream")
        parser.add_argument("--key", required=True, help="API key (needs amd:detect).")
        parser.add_argument("--auth", choices=["parameter", "subprotocol", "query"], default="parameter",
                            help="How to send the key: <Parameter name=\"api_key\"> like Twilio (default), the "
                                 "pyai-key.<KEY> subprotocol, or ?api_key=.")
        parser.add_argument("--fast", action="store_true", help="Send as fast as possible, not in real time.")
        parser.add_argument("--aggressiveness", help="customParameters.aggressiveness")
        parser.add_argument("--detect-message-end", action="store_true")
        parser.add_argument("--webhook", help="customParameters.webhook")
        parser.add_argument("--call-id", help="customParameters.call_id (your own reference)")
        parser.add_argument("--socket-events", choices=["true", "false"], help="customParameters.socket_events")
        parser.add_argument("--call-sid", default=None, help="CallSid to send (default: a random CA…).")
        parser.add_argument("--account-sid", default=None, help="AccountSid to send (default: a random AC…).")
        parser.add_argument("--twilio", action="store_true",
                            help="Act as Twilio's handshake: send X-Twilio-Signature (the server then sends no "
                                 "events unless --socket-events true).")
        parser.add_argument("--twilio-auth-token", default="",
                            help="Auth token to sign the handshake with under --twilio.")

    def handle(self, *args, **options):
        try:
            ulaw = audio.load_ulaw(options["file"])
        except (OSError, wave.Error, EOFError, ValueError) as exc:
            raise CommandError(f"Cannot read {options['file']} as WAV or raw μ-law: {exc}")
        code, reason = asyncio.run(self.stream(ulaw, options))
        if code not in OK_CLOSE_CODES:
            self.stderr.write(f"Server closed the stream with code {code}{f': {reason}' if reason else ''}.")
            sys.exit(1)

    async def stream(self, ulaw: bytes, options: dict) -> tuple[int | None, str]:
        parameters = {}
        for name in ("aggressiveness", "webhook", "socket_events"):
            if options[name] is not None:
                parameters[name] = options[name]
        if options["call_id"] is not None:
            parameters["call_id"] = options["call_id"]
        if options["detect_message_end"]:
            parameters["detect_message_end"] = "true"
        url, subprotocols = options["url"], None
        if options["auth"] == "parameter":
            parameters["api_key"] = options["key"]
        elif options["auth"] == "subprotocol":
            subprotocols = [f"pyai-key.{options['key']}"]
        else:
            parts = urlsplit(url)
            query = "&".join(filter(None, [parts.query, urlencode({"api_key": options["key"]})]))
            url = urlunsplit(parts._replace(query=query))
        headers = {}
        if options["twilio"]:
            signed = urlunsplit(urlsplit(url)._replace(scheme="wss"))
            headers["X-Twilio-Signature"] = twilio_signature(options["twilio_auth_token"], signed)
        messages = twilio_messages(ulaw, options["account_sid"] or sid("AC"), options["call_sid"] or sid("CA"),
                                   sid("MZ"), parameters)
        try:
            async with connect(url, subprotocols=subprotocols, additional_headers=headers, compression=None, proxy=None,
                               max_size=2**20, open_timeout=10) as socket:
                printer = asyncio.create_task(self.print_events(socket))
                await self.send_all(socket, messages, options["fast"])
                try:
                    await asyncio.wait_for(asyncio.shield(printer), CLOSE_WAIT_S)
                except TimeoutError:
                    await socket.close()
                    await printer
                return socket.close_code, socket.close_reason or ""
        except InvalidStatus as exc:
            raise CommandError(f"Handshake refused: HTTP {exc.response.status_code}")
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise CommandError(f"Cannot connect to {options['url']}: {exc}")

    async def send_all(self, socket, messages, fast: bool):
        begun = time.monotonic()
        frames = 0
        for message in messages:
            if message["event"] == "media" and not fast:
                delay = begun + frames * FRAME_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                frames += 1
            try:
                await socket.send(json.dumps(message))
            except ConnectionClosed:
                return

    async def print_events(self, socket):
        try:
            async for frame in socket:
                self.stdout.write(frame if isinstance(frame, str) else frame.decode(errors="replace"))
                self.stdout.flush()
        except ConnectionClosed:
            pass
