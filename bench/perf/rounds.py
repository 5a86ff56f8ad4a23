# rounds.py: the README's Performance figures. Interleaves, round after round, open-loop runs
# at 1,000/s with each pacer (and an older dmbench), closed-loop 1x1 and 8x64 runs, and the
# C libzmq client, all against one `dmbench serve`, then prints each figure's median.
#   DMB_NEW=./dmbench DMB_OLD=/path/old-dmbench PEER=/path/peer python3 bench/perf/rounds.py [PORT] [ROUNDS]
# Run it with nothing else on the machine.
import subprocess, json, glob, os, time, statistics, socket, sys, shutil
HERE=os.path.dirname(os.path.abspath(__file__))
NEW=os.environ.get('DMB_NEW','./dmbench'); OLD=os.environ.get('DMB_OLD',NEW); PEER=os.environ.get('PEER','peer')
OUT=os.environ.get('OUT','/tmp/dmbench-perf')
P=int(sys.argv[1]) if len(sys.argv)>1 else 25556
rounds=int(sys.argv[2]) if len(sys.argv)>2 else 5
serve=subprocess.Popen([NEW,'serve','--port',str(P)],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
for _ in range(100):
    try: socket.create_connection(('127.0.0.1',P+1)).close(); break
    except OSError: time.sleep(0.05)
target='tcp://127.0.0.1:%d'%P
env=dict(os.environ,CI='true')
def run(binary,scen,extra,out):
    shutil.rmtree(out,ignore_errors=True)
    subprocess.run([binary,'run',scen,'--target',target,'--server-view','off','-o',out]+extra,env=env,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,check=True)
    r=json.load(open(glob.glob(out+'/*/result.json')[0]))
    c=r['stages'][0]['commands'][0]
    wall=(r['stages'][0]['duration_us'])/1e6
    g=r['generator']
    return dict(cp50=c['corrected']['p50_us'],up50=c['uncorrected']['p50_us'],sd99=c['send_delay']['p99_us'],
                cpu=g['cpu_seconds'],spin=g.get('pacer',{}).get('spin_seconds',0),ok=c['counts']['ok'],
                tput=c['throughput_per_s'],run_s=(len(r['stages']) and 1))
def cpeer(conns,inflight,secs=5):
    out=subprocess.run([PEER,'dealer',target.replace('5556',str(P+1)) if False else 'tcp://127.0.0.1:%d'%(P+1),str(conns),str(inflight),str(secs)],capture_output=True,text=True,check=True).stdout
    f=dict(kv.split('=') for kv in out.split())
    return {k:float(v) for k,v in f.items()}
os.makedirs(OUT,exist_ok=True)
res={}
variants=[('old',OLD,[]),('hybrid',NEW,['--pacer','hybrid']),('sleep',NEW,['--pacer','sleep']),('spin',NEW,['--pacer','spin'])]
OPENONLY=os.environ.get('OPENONLY')
try:
    for i in range(rounds):
        for name,b,extra in variants:
            r=run(b,os.path.join(HERE,'open1k.yaml'),extra,OUT+'/out-'+name)
            res.setdefault(('open',name),[]).append(r)
        if OPENONLY:
            print('round',i+1,'done',flush=True); continue
        for name,b in [('old',OLD),('new',NEW)]:
            for sc in ['closed1x1','closed8x64']:
                r=run(b,os.path.join(HERE,sc+'.yaml'),[],OUT+'/out-'+sc+name)
                res.setdefault((sc,name),[]).append(r)
        res.setdefault(('closed1x1','C'),[]).append(cpeer(1,1))
        res.setdefault(('closed8x64','C'),[]).append(cpeer(8,64))
        print('round',i+1,'done',flush=True)
finally:
    serve.terminate(); serve.wait()
json.dump({'%s/%s'%k:v for k,v in res.items()},open(OUT+'/results.json','w'),indent=1)
med=lambda xs: statistics.median(xs)
for name,_,_ in variants:
    rs=res[('open',name)]
    print('open 1x1000/s %-7s cor-unc p50 %6.1f us  [%s]  unc p50 %5.0f  corr p50 %5.0f  send-delay p99 %6.0f  cpu %.3f cores (spin %.3f)'%(name,
        med([r['cp50']-r['up50'] for r in rs]), ' '.join(str(r['cp50']-r['up50']) for r in rs), med([r['up50'] for r in rs]), med([r['cp50'] for r in rs]), med([r['sd99'] for r in rs]), med([r['cpu']/11 for r in rs]), med([r['spin']/11 for r in rs])))
for sc in ([] if OPENONLY else ['closed1x1','closed8x64']):
    for name in ['old','new']:
        rs=res[(sc,name)]
        print('%s %-4s unc p50 %5.0f us  tput %8.0f/s [%s]'%(sc,name,med([r['up50'] for r in rs]),med([r['tput'] for r in rs]),' '.join('%.0f'%r['tput'] for r in rs)))
    rs=res[(sc,'C')]
    print('%s C    p50 %s us  tput %8.0f/s [%s]'%(sc, '%.0f'%med([r['p50_us'] for r in rs]) if 'p50_us' in rs[0] else '-', med([r['roundtrips']/r['seconds'] for r in rs]),' '.join('%.0f'%(r['roundtrips']/r['seconds']) for r in rs)))
