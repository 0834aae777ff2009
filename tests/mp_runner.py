# A minimal test runner for the MicroPython unix port: imports each named test
# module, calls its test_* functions, and ends with pytest's kind of summary
# line. Usage: micropython tests/mp_runner.py MODULE [MODULE...] [-k NAME]
import sys


def main(argv):
    only = None
    if "-k" in argv:
        i = argv.index("-k")
        only = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    passed = failed = 0
    for modname in argv:
        mod = __import__(modname)
        for name in sorted(dir(mod)):
            if not name.startswith("test_") or (only and only not in name):
                continue
            fn = getattr(mod, name)
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - report every failure
                failed += 1
                print("FAILED %s::%s" % (modname, name))
                sys.print_exception(e)
            else:
                passed += 1
                print("PASSED %s::%s" % (modname, name))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv[1:]))
