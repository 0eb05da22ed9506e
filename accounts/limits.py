"""Per-key request rate (token bucket) and concurrent-stream caps.

With Redis configured both live in Redis and are updated atomically by Lua
scripts, so every daphne and web process shares them. Without Redis they live
in this process's memory, which is right for the embedded single-process mode.
"""

import threading
import time

from django.conf import settings

from .errors import ApiError

STREAM_SLOT_TTL_S = 120  # a slot not refreshed for this long is presumed dead (crashed process)
EPSILON_S = 1e-6  # float slack so exactly-on-time requests are not refused

_GCRA_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - tolerance
if wait > 1e-6 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((tolerance + interval) * 1000) + 1000)
return '0'
"""

_ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class _MemoryBackend:
    def __init__(self):
        self.lock = threading.Lock()
        self.tats: dict[str, float] = {}
        self.slots: dict[str, dict[str, float]] = {}

    def take(self, bucket, interval, tolerance, now):
        with self.lock:
            tat = max(self.tats.get(bucket, now), now)
            new_tat = tat + interval
            wait = new_tat - now - tolerance
            if wait > EPSILON_S:
                return wait
            self.tats[bucket] = new_tat
            return 0.0

    def acquire(self, group, slot, cap, now):
        with self.lock:
            slots = self.slots.setdefault(group, {})
            for name, expiry in list(slots.items()):
                if expiry <= now:
                    del slots[name]
            if len(slots) >= cap:
                return False
            slots[slot] = now + STREAM_SLOT_TTL_S
            return True

    def refresh(self, group, slot, now):
        with self.lock:
            if slot in self.slots.get(group, {}):
                self.slots[group][slot] = now + STREAM_SLOT_TTL_S

    def release(self, group, slot):
        with self.lock:
            self.slots.get(group, {}).pop(slot, None)

    def reset(self):
        with self.lock:
            self.tats.clear()
            self.slots.clear()


class _RedisBackend:
    def __init__(self, url):
        import redis

        self.client = redis.Redis.from_url(url)
        self.gcra = self.client.register_script(_GCRA_LUA)
        self.acquire_script = self.client.register_script(_ACQUIRE_LUA)

    def take(self, bucket, interval, tolerance, now):
        return float(self.gcra(keys=[f"pyai:rate:{bucket}"], args=[now, interval, tolerance]))

    def acquire(self, group, slot, cap, now):
        ok = self.acquire_script(
            keys=[f"pyai:streams:{group}"],
            args=[now, now + STREAM_SLOT_TTL_S, cap, slot, STREAM_SLOT_TTL_S * 2],
        )
        return bool(ok)

    def refresh(self, group, slot, now):
        self.client.zadd(f"pyai:streams:{group}", {slot: now + STREAM_SLOT_TTL_S}, xx=True)

    def release(self, group, slot):
        self.client.zrem(f"pyai:streams:{group}", slot)

    def reset(self):
        for key in self.client.scan_iter("pyai:rate:*"):
            self.client.delete(key)
        for key in self.client.scan_iter("pyai:streams:*"):
            self.client.delete(key)


_backend = None
_backend_lock = threading.Lock()


def backend():
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                _backend = _RedisBackend(settings.REDIS_URL) if settings.REDIS_URL else _MemoryBackend()
    return _backend


def take_request(key) -> float:
    """Count one request against the key's bucket: 0 if allowed, else seconds until one would be."""
    rate = max(1, key.requests_per_second)
    interval = 1.0 / rate
    return backend().take(key.pk, interval, interval * max(1, key.burst), time.time())


def check_rate(key) -> None:
    """Count one request; raise the 429 ``rate_limit_exceeded`` refusal (with its wait) when over the rate."""
    wait = take_request(key)
    if wait > 0:
        raise ApiError(
            429, "rate_limit_exceeded",
            f"Rate limit exceeded for this API key ({key.requests_per_second} requests per second, "
            f"burst {key.burst}). Retry after {wait:.2f} s.",
            retry_after=wait,
        )


def acquire_stream(key, slot: str) -> bool:
    """Reserve one of the key's concurrent-stream slots; False when all are taken."""
    return backend().acquire(key.pk, slot, key.concurrent_streams, time.time())


def refresh_stream(key, slot: str) -> None:
    backend().refresh(key.pk, slot, time.time())


def release_stream(key, slot: str) -> None:
    backend().release(key.pk, slot)
