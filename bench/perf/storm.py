# storm.py: issue 15's figures, before and after in one run. Against one `dmbench serve` in
# its own process it interleaves, round after round, an older and a newer dmbench on:
#   storm5k   5,000 connections x 1 HARTBEAT/s (Poisson): dmbench's CPU per request over the
#             measured window (no connecting, no warm-up), with each pacer;
#   storm10k  10,000 x 1/s: lost connections, generator-bound or not, send delay, CPU;
#   idle1k / idle10k: resident memory in the middle of an idle stage; per idle connection
#             = (RSS at 10k - RSS at 1k) / 9,000, so fixed costs cancel;
#   closed8x64: round trips/s (bench/perf/closed8x64.yaml).
# CPU and memory are read from /proc/<pid> of the dmbench process every 50 ms.
#   DMB_NEW=./dmbench DMB_OLD=/path/old-dmbench python3 bench/perf/storm.py [PORT] [ROUNDS]
# (ONLY=storm5k,idle1k picks scenarios; EXTRA='--io-loops 1' adds run flags; without DMB_OLD
# only the new binary runs.)
# Run it with nothing else on the machine.
import subprocess, json, glob, os, time, statistics, socket, sys, shutil, threading, datetime
HERE = os.path.dirname(os.path.abspath(__file__))
NEW = os.environ.get('DMB_NEW', './dmbench'); OLD = os.environ.get('DMB_OLD', NEW)
OUT = os.environ.get('OUT', '/tmp/dmbench-storm')
P = int(sys.argv[1]) if len(sys.argv) > 1 else 25656
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
TICK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')

def proc_sample(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    with open('/proc/%d/statm' % pid) as f:
        rss = int(f.read().split()[1]) * PAGE
    return time.time(), cpu, rss

def run(binary, scen, extra, out):
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.Popen([binary, 'run', os.path.join(HERE, scen + '.yaml'), '--target', 'tcp://127.0.0.1:%d' % P,
                          '--server-view', 'off', '-o', out] + extra + os.environ.get('EXTRA', '').split(),
                         env=dict(os.environ, CI='true'), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = []
    def watch():
        while p.poll() is None:
            try: samples.append(proc_sample(p.pid))
            except (OSError, IndexError): pass
            time.sleep(0.05)
    t = threading.Thread(target=watch); t.start(); p.wait(); t.join()
    r = json.load(open(glob.glob(out + '/*/result.json')[0]))
    st = r['stages'][0]
    start = datetime.datetime.fromisoformat(st['measured_start'].replace('Z', '+00:00')).timestamp()
    end = start + st['measured_us'] / 1e6
    inside = [s for s in samples if start <= s[0] <= end]
    cpu = (inside[-1][1] - inside[0][1]) * (end - start) / (inside[-1][0] - inside[0][0])
    mid = min(samples, key=lambda s: abs(s[0] - (start + end) / 2))
    c = st['commands'][0]
    conn = r['connections']
    return dict(cpu_us_req=cpu * 1e6 / max(1, c['counts']['sent']), cpu_cores=cpu / (end - start),
                sent=c['counts']['sent'], ok=c['counts']['ok'], rss_mid=mid[2],
                lost=conn.get('disconnects', 0), connected=conn.get('connected', 0),
                bound=r['generator'].get('bound', False), sd99=c['send_delay']['p99_us'],
                p99=c['corrected']['p99_us'], tput=c['throughput_per_s'], exit=p.returncode)

serve = subprocess.Popen([NEW, 'serve', '--port', str(P)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try: socket.create_connection(('127.0.0.1', P + 1)).close(); break
    except OSError: time.sleep(0.05)
os.makedirs(OUT, exist_ok=True)
res = {}
plan = [('storm5k', ['--pacer', 'hybrid'], 'hybrid'), ('storm5k', ['--pacer', 'sleep'], 'sleep'),
        ('storm10k', [], 'hybrid'), ('idle1k', [], ''), ('idle10k', [], ''), ('closed8x64', [], '')]
ONLY = os.environ.get('ONLY')  # e.g. ONLY=storm5k: those scenarios alone
if ONLY:
    plan = [p for p in plan if p[0] in ONLY.split(',')]
binaries = [('old', OLD), ('new', NEW)] if OLD != NEW else [('new', NEW)]
try:
    for i in range(ROUNDS):
        for scen, extra, tag in plan:
            for name, b in binaries:
                key = '%s %s %s' % (scen, tag, name)
                res.setdefault(key, []).append(run(b, scen, extra, OUT + '/out'))
        print('round', i + 1, 'done', flush=True)
finally:
    serve.terminate(); serve.wait()
json.dump(res, open(OUT + '/results.json', 'w'), indent=1)
med = lambda xs: statistics.median(xs)
for key, rs in res.items():
    print('%-22s cpu/req %6.1f us  cores %.2f  sent %7d  ok %7d  lost %d  bound %s  send-delay p99 %7d us  p99 %7d us  rt/s %9.0f  rss %6.1f MiB  exit %s' % (
        key, med([r['cpu_us_req'] for r in rs]), med([r['cpu_cores'] for r in rs]), med([r['sent'] for r in rs]), med([r['ok'] for r in rs]),
        max(r['lost'] for r in rs), [r['bound'] for r in rs], med([r['sd99'] for r in rs]), med([r['p99'] for r in rs]), med([r['tput'] for r in rs]),
        med([r['rss_mid'] for r in rs]) / 2**20, [r['exit'] for r in rs]))
for name in ['old', 'new']:
    a, b = res.get('idle1k  ' + name), res.get('idle10k  ' + name)
    if a and b:
        print('%s: RSS per idle connection %.1f KiB' % (name, med([(y['rss_mid'] - x['rss_mid']) / 9000 / 1024 for x, y in zip(a, b)])))
