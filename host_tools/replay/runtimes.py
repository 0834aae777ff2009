"""The two runtimes of `pumpmon replay`: the driver (replay/driver.py) on
CPython in this process, or inside the MicroPython unix port with the
samples streamed to its stdin (parsed and checked here, so both runtimes see
exactly the same numbers)."""
import json
import subprocess
import tempfile

from host_tools import paths
from host_tools.replay import driver as replay_driver

MP_HEAP = "4M"


class UsageError(RuntimeError):
    """The replay cannot run here (e.g. no MicroPython unix port): exit 1."""


def run_cpython(trace, cfg, write, progress):
    return replay_driver.replay(cfg, progress(trace.samples()), write)


def run_micropython(trace, values, write, progress):
    """The same driver inside the unix port, the samples streamed to its stdin
    (parsed and checked here, so both runtimes see exactly the same numbers)."""
    try:
        mp = paths.micropython()
    except FileNotFoundError as e:
        raise UsageError(str(e))
    encode = replay_driver.encode_sample
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [mp, "-X", "heapsize=" + MP_HEAP, replay_driver.__file__],
            env=paths.micropython_env(), stdin=subprocess.PIPE, stdout=out, stderr=err)
        ok = False
        try:
            pipe = proc.stdin
            pipe.write((json.dumps(values, sort_keys=True) + "\n").encode())
            buf = []
            for s in progress(trace.samples()):
                buf.append(encode(s))
                if len(buf) >= 8192:
                    pipe.write("".join(buf).encode())
                    buf = []
            pipe.write("".join(buf).encode())
            pipe.close()
            ok = True
        except BrokenPipeError:
            ok = True   # it stopped reading: its exit status and stderr say why
        finally:
            if not ok:  # a bad row (TraceError) or an interrupt: stop it
                proc.kill()
            rc = proc.wait()
        err.seek(0)
        errtext = err.read().decode("utf-8", "replace")
        if rc != 0:
            raise RuntimeError("micropython replay failed (exit %d): %s"
                               % (rc, errtext.strip()[-2000:]))
        out.seek(0)
        for line in out:
            write(line.decode("utf-8"))
