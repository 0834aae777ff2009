// pumpmon's user C module for the MicroPython qemu port (`make mcu`): the
// board's ROM partition, the read-only segment MicroPython's ROMFS
// (vfs.VfsRom, MicroPython >= 1.25) runs bytecode from in place, as the rp2
// port's MICROPY_HW_ROMFS_BYTES partition of the XIP flash or the esp32
// port's "romfs" partition do. mcu/mpconfigport.sed turns on
// MICROPY_VFS_ROM_IOCTL, so vfs.rom_ioctl() is this function and main.c
// mounts segment 0 at /rom when it holds a ROMFS image.
//
// Where: the board's PSRAM at 0x21C00000, 12 MiB past the flash's start
// (mcuflash.c keeps the flash below that), so neither the flash, the heap
// (its own array, or SSRAM2/3 on request) nor the firmware's image touch it.
// A system reset (machine.reset(), mcu/reset.sed) and a soft reset leave it
// as it is, as a board's flash does. A fresh QEMU starts with it blank
// (zeros: no ROMFS, nothing mounted) unless the host hands QEMU an image
// (-device loader,file=IMAGE,addr=0x21C00000,force-raw=on: the bench).
//
// Size: 256 KiB (64 erase blocks of 4 KiB). The firmware's ROMFS image is
// 76,660 B for the QEMU board (armv7m .mpy, no carers' link), 88 KB for a
// Pico and 105 KB with the link for an ESP32; 256 KiB leaves room to grow,
// and is what a 2 MB Pico can spare beside its littlefs (docs/boards.md).
//
// The protocol (extmod/vfs.h, MP_VFS_ROM_IOCTL_*; mpremote's `romfs deploy`
// and `pumpmon flash` use it): 1 the number of segments; 2 segment 0 as a
// memoryview; 3 (id, len) prepare: erase (0xff) the blocks that len covers,
// returns the smallest write (4); 4 (id, offset, buf) write; 5 (id) done.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "extmod/vfs.h"

#if MICROPY_VFS_ROM_IOCTL

#define MCU_ROM_ADDR (0x21C00000)
#define MCU_ROM_BYTES (256 * 1024)
#define MCU_ROM_BLOCK (4096)
#define MCU_ROM_MIN_WRITE (4)

static const MP_DEFINE_MEMORYVIEW_OBJ(mcu_rom_obj, 'B', 0, MCU_ROM_BYTES, (void *)MCU_ROM_ADDR);

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    mp_int_t cmd = mp_obj_get_int(args[0]);
    if (cmd == MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS) {
        return MP_OBJ_NEW_SMALL_INT(1);
    }
    if (n_args < 2 || mp_obj_get_int(args[1]) != 0) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);     // one segment: 0
    }
    switch (cmd) {
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&mcu_rom_obj);

        case MP_VFS_ROM_IOCTL_WRITE_PREPARE: {
            if (n_args < 3) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_int_t len = mp_obj_get_int(args[2]);
            if (len < 0 || len > MCU_ROM_BYTES) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            size_t erase = (len + MCU_ROM_BLOCK - 1) / MCU_ROM_BLOCK * MCU_ROM_BLOCK;
            memset((void *)MCU_ROM_ADDR, 0xff, erase);
            return MP_OBJ_NEW_SMALL_INT(MCU_ROM_MIN_WRITE);
        }

        case MP_VFS_ROM_IOCTL_WRITE: {
            if (n_args < 4) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_int_t off = mp_obj_get_int(args[2]);
            mp_buffer_info_t bufinfo;
            mp_get_buffer_raise(args[3], &bufinfo, MP_BUFFER_READ);
            if (off < 0 || off % MCU_ROM_MIN_WRITE || (size_t)off + bufinfo.len > MCU_ROM_BYTES) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            // flash programs bits from 1 to 0 only: a write over a block
            // that was not prepared (erased) mixes old and new, as on a board
            uint8_t *dst = (uint8_t *)MCU_ROM_ADDR + off;
            const uint8_t *src = bufinfo.buf;
            for (size_t i = 0; i < bufinfo.len; i++) {
                dst[i] &= src[i];
            }
            return MP_OBJ_NEW_SMALL_INT(0);
        }

        case MP_VFS_ROM_IOCTL_WRITE_COMPLETE:
            return MP_OBJ_NEW_SMALL_INT(0);
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}

#endif
