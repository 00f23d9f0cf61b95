# Opens N WebSockets to HOST:PORT/ws, checks each echoes, holds them idle,
# prints "open N" and waits for a line on stdin before closing them all.
import asyncio
import os
import sys

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


async def one(host, port):
    r, w = await asyncio.open_connection(host, port)
    w.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = await r.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(head)
    mask = os.urandom(4)
    msg = b"hi"
    w.write(bytes([0x81, 0x80 | len(msg)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
    frame = await r.readexactly(4)
    if frame[2:] != msg:
        raise RuntimeError(frame)
    return w


async def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sem = asyncio.Semaphore(200)

    async def limited():
        async with sem:
            return await one(host, port)
    conns = await asyncio.gather(*(limited() for _ in range(n)), return_exceptions=True)
    ok = [c for c in conns if not isinstance(c, BaseException)]
    errs = [c for c in conns if isinstance(c, BaseException)]
    print("open %d failed %d %s" % (len(ok), len(errs), repr(errs[0])[:200] if errs else ""), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for w in ok:
        w.close()

asyncio.run(main())
