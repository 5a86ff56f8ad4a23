# soak.py: dmbench under hostile peers for a long time (issue 16). Not in .ci/run.
#
#   DMB=./dmbench python3 bench/soak/soak.py [--duration 600] [--port 26556]
#
# It starts, all on 127.0.0.1:
#   - `dmbench serve` (the broker), metrics on port+10;
#   - `dmbench run bench/soak/soak.yaml` against it, well-behaved, --reconnect, metrics on
#     port+11;
#   - hostile clients against the broker: malformed frames, slow readers that flood
#     requests with 60 KB ids and never read, frames far above the limit, a reconnect
#     storm;
#   - a hostile server (a ROUTER by hand that sends garbage, huge frames, bad greetings
#     and hangs up) and a second `dmbench run` against it, --reconnect, metrics on port+12.
# Every 10 s it reads go_gc_heap_live_bytes (the live heap after the last GC) of the three
# dmbench processes; at the end it prints each one's least-squares slope after the first
# minute, the well-behaved run's counts against the server's, and the faults each side
# counted. Exit 1 when a slope is above 1% of the mean heap per minute, the well-behaved
# run lost requests, or a process failed.
import argparse, json, glob, os, random, re, shutil, signal, socket, struct, subprocess, sys, threading, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument('--duration', type=int, default=600)
ap.add_argument('--port', type=int, default=26556)
args = ap.parse_args()
DMB = os.environ.get('DMB', './dmbench')
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get('OUT', '/tmp/dmbench-soak')
shutil.rmtree(OUT, ignore_errors=True); os.makedirs(OUT)
P = args.port
SIG = P + 1                 # the broker's signalling port
HOSTILE_BASE = P + 20       # the hostile server listens on HOSTILE_BASE + 1
stop = threading.Event()
counts = {}
lock = threading.Lock()

def count(what, n=1):
    with lock:
        counts[what] = counts.get(what, 0) + n

def greeting():
    return b'\xff' + b'\x00' * 8 + b'\x7f' + bytes([3, 1]) + b'NULL'.ljust(20, b'\x00') + b'\x00' + b'\x00' * 31

def ready(socket_type):
    body = b'\x05READY' + b'\x0bSocket-Type' + struct.pack('>I', len(socket_type)) + socket_type
    return bytes([0x04, len(body)]) + body

def frame(body, more=False):
    flags = 0x01 if more else 0
    if len(body) > 255:
        return bytes([flags | 0x02]) + struct.pack('>Q', len(body)) + body
    return bytes([flags, len(body)]) + body

def dealer():
    s = socket.create_connection(('127.0.0.1', SIG), timeout=5)
    s.sendall(greeting() + ready(b'DEALER'))
    return s

def request(ident, command=b'HARTBEAT'):
    return frame(b'', True) + frame(ident, True) + frame(command, True) + frame(b'\x81\xa3ack\xc3')

def hostile(kind):
    while not stop.is_set():
        try:
            s = dealer()
            if kind == 'malformed':
                s.sendall(frame(b'', True) + frame(b'x' * 16, True) + frame(b'NOTACMD!', True) + frame(b'\xc1\xc1'))
                s.sendall(bytes([0x04, 3, 9, 0, 0]))              # a malformed command
                s.sendall(frame(b'only one frame'))
                s.sendall(bytes([0x07]) + os.urandom(64))           # garbage flags
                count('malformed sent')
            elif kind == 'slow':
                s.settimeout(0.2)
                try:
                    for _ in range(200):
                        s.sendall(request(os.urandom(30000).hex().encode()[:60000]))
                except OSError:
                    pass
                count('slow flood')
                stop.wait(10)
            elif kind == 'big':
                s.sendall(b'\x02' + struct.pack('>Q', 200 << 20) + b'\x00' * (1 << 20))
                count('big frame sent')
            elif kind == 'storm':
                count('storm connect')
            s.close()
        except OSError:
            count(kind + ' refused')
        stop.wait({'malformed': 0.2, 'slow': 1, 'big': 0.5, 'storm': 0.02}[kind])

def hostile_server():
    ln = socket.socket(); ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ln.bind(('127.0.0.1', HOSTILE_BASE + 1)); ln.listen(128); ln.settimeout(0.5)
    while not stop.is_set():
        try:
            c, _ = ln.accept()
        except socket.timeout:
            continue
        def serve(c):
            try:
                act = random.choice(['garbage', 'huge', 'badgreeting', 'hangup', 'echo-bad'])
                count('hostile server ' + act)
                if act == 'badgreeting':
                    c.sendall(b'SSH-2.0-OpenSSH_9.6\r\n')
                    return
                c.sendall(greeting() + ready(b'ROUTER'))
                c.settimeout(1); c.recv(4096)
                if act == 'garbage':
                    c.sendall(os.urandom(4096))
                elif act == 'huge':
                    c.sendall(b'\x02' + struct.pack('>Q', 60 << 20) + b'\x00' * (2 << 20))
                elif act == 'echo-bad':
                    for _ in range(50):
                        c.sendall(frame(b'', True) + frame(os.urandom(16), True) + frame(b'COMPLETE', True) + frame(b'\xc1'))
                stop.wait(0.5)
            except OSError:
                pass
            finally:
                c.close()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    ln.close()

def metric(port, name):
    try:
        body = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=2).read().decode()
        return float(re.search(r'^%s ([0-9.e+]+)' % name, body, re.M).group(1))
    except Exception:
        return None

def live_heap(port):
    return metric(port, 'go_gc_heap_live_bytes')

def slope(points):
    # least squares, bytes per minute
    n = len(points)
    if n < 3:
        return 0.0, 0.0
    mx = sum(t for t, _ in points) / n; my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / sxx * 60, my

env = dict(os.environ, CI='true')
serve = subprocess.Popen([DMB, 'serve', '--port', str(P), '--metrics-addr', '127.0.0.1:%d' % (P + 10)],
                         stdout=open(OUT + '/serve.out', 'w'), stderr=subprocess.STDOUT, env=env)
time.sleep(1)
scen = OUT + '/soak.yaml'
text = open(os.path.join(HERE, 'soak.yaml')).read().replace('duration: 600s', 'duration: %ds' % args.duration)
open(scen, 'w').write(text)
good = subprocess.Popen([DMB, 'run', scen, '--target', 'tcp://127.0.0.1:%d' % P, '--reconnect', '-o', OUT + '/good',
                         '--metrics-addr', '127.0.0.1:%d' % (P + 11)],
                        stdout=open(OUT + '/good.out', 'w'), stderr=subprocess.STDOUT, env=env)
threads = [threading.Thread(target=hostile_server, daemon=True)]
threads += [threading.Thread(target=hostile, args=(k,), daemon=True) for k in ['malformed', 'slow', 'slow', 'big', 'storm']]
for t in threads: t.start()
time.sleep(1)
victim = subprocess.Popen([DMB, 'run', scen, '--target', 'tcp://127.0.0.1:%d' % HOSTILE_BASE, '--reconnect', '--server-view', 'off',
                           '--clients', '50', '-o', OUT + '/victim', '--metrics-addr', '127.0.0.1:%d' % (P + 12)],
                          stdout=open(OUT + '/victim.out', 'w'), stderr=subprocess.STDOUT, env=env)
heaps = {'serve': [], 'run': [], 'run vs hostile server': []}
t0 = time.time()
while good.poll() is None and time.time() - t0 < args.duration + 120:
    time.sleep(10)
    for name, port in [('serve', P + 10), ('run', P + 11), ('run vs hostile server', P + 12)]:
        v = live_heap(port)
        if v is not None:
            heaps[name].append((time.time() - t0, v))
    print('%4.0fs  live heap MiB: %s   (broker memberships %s)' % (time.time() - t0, '  '.join('%s %.1f' % (k, v[-1][1] / 2**20) for k, v in heaps.items() if v),
          metric(P + 10, 'dmbench_broker_memberships')), flush=True)
good.wait()
victim.wait(timeout=120)
stop.set()
serve.send_signal(signal.SIGINT); serve.wait(timeout=30)
failed = False
print('\nlive heap after GC, slope after the first minute:')
for name, pts in heaps.items():
    s, mean = slope([p for p in pts if p[0] >= 60])
    flat = mean > 0 and abs(s) <= 0.01 * mean
    failed |= not flat
    print('  %-22s mean %.1f MiB, slope %+.3f MiB/min (%+.2f%% of the mean per minute)%s' % (
        name, mean / 2**20, s / 2**20, 100 * s / mean if mean else 0, '' if flat else '  NOT FLAT'))
r = json.load(open(glob.glob(OUT + '/good/*/result.json')[0]))
c = r['stages'][0]['commands']
sent = sum(x['counts']['sent'] for x in c); ok = sum(x['counts']['ok'] for x in c)
errs = {k: sum(x['counts'].get(k, 0) for x in c) for k in ['timeouts', 'abandoned', 'send_errors', 'exceptions', 'unexpected']}
print('well-behaved run: sent %d, ok %d, %s, disconnects %s, exit %d' % (sent, ok, errs, r['connections'].get('disconnects'), good.returncode))
failed |= good.returncode != 0 or any(errs[k] for k in ['timeouts', 'abandoned', 'send_errors'])
print('hostile peers sent:', json.dumps(counts, sort_keys=True))
print('run vs hostile server (exit %d): %s' % (victim.returncode, open(OUT + '/victim.out').read()[-1500:]))
print('serve on exit:', open(OUT + '/serve.out').read()[-1500:])
sys.exit(1 if failed else 0)
