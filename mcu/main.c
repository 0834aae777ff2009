/*
 * pumpmon's main.c for the MicroPython qemu port (`make mcu` copies it over
 * ports/qemu/main.c). Upstream's runs only the REPL; this one starts like a
 * board: mount the ROM partition at /rom when it holds a ROMFS image (as the
 * rp2 and esp32 ports do: /rom and /rom/lib join sys.path), mount the flash
 * (littlefs on mcuflash.Flash, formatted when blank) at /, run boot.py, then
 * main.py unless in the raw REPL, then the REPL.
 *
 * Derived from ports/qemu/main.c of MicroPython v1.28.0:
 * The MIT License (MIT), Copyright (c) 2014-2023 Damien P. George
 * (the full licence text is in the MicroPython source's LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "py/compile.h"
#include "py/runtime.h"
#include "py/gc.h"
#include "py/mperrno.h"
#include "extmod/vfs.h"
#include "shared/runtime/gchelper.h"
#include "shared/runtime/pyexec.h"

#if MICROPY_HEAP_SIZE <= 0
#error MICROPY_HEAP_SIZE must be a positive integer.
#endif

static uint32_t gc_heap[MICROPY_HEAP_SIZE / sizeof(uint32_t)];

// A larger heap on request, for tests that need more than a Pico has: QEMU's
// loader device writes its size into the first word of the board's second
// RAM (SSRAM2/3, 4 MB at 0x20000000, which nothing else uses), e.g.
//   -device loader,addr=0x20000000,data=1048576,data-len=4
// and the heap is the RAM after that word. Zero (QEMU clears RAM): the
// Pico-sized heap above.
#define ALT_RAM ((uint8_t *)0x20000000)
#define ALT_RAM_BYTES (4 * 1024 * 1024)

static void heap_init(void) {
    uint32_t want = *(volatile uint32_t *)ALT_RAM;
    if (want >= 16 * 1024 && want <= ALT_RAM_BYTES - 16) {
        gc_init(ALT_RAM + 16, ALT_RAM + 16 + want);
    } else {
        gc_init(gc_heap, (char *)gc_heap + MICROPY_HEAP_SIZE);
    }
}

static const char mount_flash[] =
    "import vfs, mcuflash\n"
    "f = mcuflash.Flash()\n"
    "try:\n"
    "    vfs.mount(vfs.VfsLfs2(f), '/')\n"
    "except OSError:\n"
    "    vfs.VfsLfs2.mkfs(f)\n"
    "    vfs.mount(vfs.VfsLfs2(f), '/')\n"
    "import sys\n"
    "sys.path.append('/lib')\n"
    "del vfs, mcuflash, f, sys\n";

static void run_source(const char *src) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = mp_lexer_new_from_str_len(MP_QSTR__lt_stdin_gt_, src, strlen(src), 0);
        qstr source_name = lex->source_name;
        mp_parse_tree_t parse_tree = mp_parse(lex, MP_PARSE_FILE_INPUT);
        mp_obj_t module_fun = mp_compile(&parse_tree, source_name, false);
        mp_call_function_0(module_fun);
        nlr_pop();
    } else {
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
    }
}

int main(int argc, char **argv) {
    mp_cstack_init_with_sp_here(10240);
    heap_init();

    for (;;) {
        mp_init();
        // the ROM partition (usermod/mcuflash/mcurom.c): a blank or damaged
        // one is simply not mounted; boot.py decides whether the firmware
        // runs from it (its hash against the manifest's) or from the flash
        mp_vfs_mount_romfs_protected();
        run_source(mount_flash);
        gc_collect();

        int ret = pyexec_file_if_exists("boot.py");
        if (ret & PYEXEC_FORCED_EXIT) {
            goto soft_reset;
        }
        if (pyexec_mode_kind == PYEXEC_MODE_FRIENDLY_REPL) {
            ret = pyexec_file_if_exists("main.py");
            if (ret & PYEXEC_FORCED_EXIT) {
                goto soft_reset;
            }
        }

        for (;;) {
            if (pyexec_mode_kind == PYEXEC_MODE_RAW_REPL) {
                if (pyexec_raw_repl() != 0) {
                    break;
                }
            } else {
                if (pyexec_friendly_repl() != 0) {
                    break;
                }
            }
        }

    soft_reset:
        mp_printf(&mp_plat_print, "MPY: soft reboot\n");

        gc_sweep_all();
        mp_deinit();
    }
}

void gc_collect(void) {
    gc_collect_start();
    gc_helper_collect_regs_and_stack();
    gc_collect_end();
}

void nlr_jump_fail(void *val) {
    mp_printf(&mp_plat_print, "uncaught NLR\n");
    exit(1);
}
