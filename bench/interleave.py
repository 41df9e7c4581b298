#!/usr/bin/env python3
"""bench/interleave.py: compare propwatch builds or flags side by side.

The A-B-A run of overhead.sh moves by several hundredths from one run to the
next on a shared VM, more than the difference between two builds. This runs
the variants interleaved instead, each between two runs without propwatch,
cycle after cycle, so that drift hits every variant alike, and reports two
ratios per variant (median and range over the cycles):

  throughput  requests/s with the variant / mean of the runs around it
  cpu         CPU per request without / with: nginx's workers, wrk and
              propwatch together (utime+stime), which a noisy neighbour
              moves less than throughput. At saturation the two agree
              when the machine is the benchmark's alone.

usage (as root, nginx and wrk installed; `make build` first):
  bench/interleave.py [-c CYCLES] [-s SECONDS] NAME=BINARY[:FLAG,FLAG...] ...
e.g.
  bench/interleave.py -c 4 -s 6 sock=bin/propwatch:--hooks=sock btf=bin/propwatch:--hooks=btf
"""
import argparse, os, re, resource, shutil, signal, statistics, subprocess, sys, tempfile, time


NGINX = '''daemon off;
master_process on;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/t/body;
    proxy_temp_path {d}/t/proxy;
    fastcgi_temp_path {d}/t/fastcgi;
    uwsgi_temp_path {d}/t/uwsgi;
    scgi_temp_path {d}/t/scgi;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port} default_server reuseport;
        location / {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
'''

TCK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    try:
        f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
        return (int(f[11]) + int(f[12])) / TCK
    except OSError:
        return 0.0


def children(pid):
    try:
        return [int(p) for p in open(f'/proc/{pid}/task/{pid}/children').read().split()]
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-c', '--cycles', type=int, default=5)
    ap.add_argument('-s', '--seconds', type=int, default=6)
    ap.add_argument('--port', type=int, default=28080)
    ap.add_argument('variants', nargs='+', help='NAME=BINARY[:FLAGS], FLAGS of propwatch run separated by commas')
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('interleave: must run as root (propwatch loads eBPF programs)')
    for tool in ('nginx', 'wrk'):
        if not shutil.which(tool):
            sys.exit(f'interleave: {tool} is not installed (apt-get install nginx-light wrk)')
    variants = []
    for v in a.variants:
        name, _, rest = v.partition('=')
        binary, _, args = rest.partition(':')
        variants.append((name, os.path.abspath(binary), [x for x in args.split(',') if x]))
    d = tempfile.mkdtemp(prefix='propwatch-interleave.')
    os.makedirs(f'{d}/t')
    open(f'{d}/nginx.conf', 'w').write(NGINX.format(d=d, port=a.port))
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'wrk-request.lua'), f'{d}/headers.lua')
    ng = subprocess.Popen(['nginx', '-c', f'{d}/nginx.conf', '-p', d, '-e', f'{d}/nginx-error.log'],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        workers = children(ng.pid)
        if not workers:
            sys.exit(f'interleave: nginx did not start: {open(d + "/nginx-error.log").read()[-300:]}')

        def run(extra=None):
            pids = workers + ([extra] if extra else [])
            c0 = sum(cpu_seconds(p) for p in pids)
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(['wrk', '-t2', '-c50', f'-d{a.seconds}s', '-s', f'{d}/headers.lua',
                                  f'http://127.0.0.1:{a.port}/'], capture_output=True, text=True, timeout=a.seconds + 30).stdout
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            c1 = sum(cpu_seconds(p) for p in pids)
            reqs = int(re.search(r'(\d+) requests in', out).group(1))
            rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
            cpu = (c1 - c0) + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            return rps, cpu / reqs

        res = {name: ([], []) for name, _, _ in variants}
        for c in range(a.cycles):
            prev = run()
            line = f'cycle {c}: without {prev[0]:.0f} req/s {prev[1] * 1e6:.1f} us/req'
            for name, binary, args in variants:
                log = f'{d}/{name}.log'
                p = subprocess.Popen([binary, 'run', '--quiet'] + args, stdout=open(log, 'w'), stderr=subprocess.STDOUT)
                for _ in range(300):
                    if 'capture attached' in open(log).read() or p.poll() is not None:
                        break
                    time.sleep(0.1)
                if p.poll() is not None:
                    sys.exit(f'interleave: {name} exited: {open(log).read()[-500:]}')
                time.sleep(0.5)
                cur = run(p.pid)
                p.send_signal(signal.SIGINT)
                p.wait(timeout=30)
                time.sleep(1)
                nxt = run()
                tr = 2 * cur[0] / (prev[0] + nxt[0])
                cr = (prev[1] + nxt[1]) / 2 / cur[1]
                res[name][0].append(tr)
                res[name][1].append(cr)
                line += f'  {name}: {tr:.3f} / {cr:.3f}'
                prev = nxt
            print(line, flush=True)
        for name, (tr, cr) in res.items():
            print(f'{name}: throughput ratio median {statistics.median(tr):.3f} [{min(tr):.3f}..{max(tr):.3f}]'
                  f'  cpu ratio median {statistics.median(cr):.3f} [{min(cr):.3f}..{max(cr):.3f}]')
    finally:
        ng.send_signal(signal.SIGQUIT)
        ng.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    main()
