// pumpmon's user C module for the MicroPython qemu port (`make mcu`).
//
// mcuflash.Flash(): the emulated board's flash, a block device (the extended
// interface littlefs uses: readblocks/writeblocks with an offset, ioctl with
// erase) over RAM outside the GC heap (below), so the Python heap stays the
// Pico's size and the files survive a soft reset (Ctrl-D) and machine.reset(),
// as a real board's flash does. A fresh QEMU starts with a blank flash (zeros:
// main.c formats it) unless it is given an image.
//
// mp_hal_time_ns(): littlefs stamps files with it and the port has none; the
// MPS2 has no battery clock, so this is the time since power-on counted from
// 2000-01-01 (MicroPython's epoch), the way a board without an RTC starts.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "extmod/vfs.h"

#ifndef MCU_FLASH_BYTES
#define MCU_FLASH_BYTES (1024 * 1024)
#endif
#define MCU_FLASH_BLOCK (4096)
#define MCU_FLASH_BLOCKS ((mp_int_t)(mcu_flash_bytes() / MCU_FLASH_BLOCK))

// The flash lives in the board's PSRAM (16 MB at 0x21000000, which neither
// the firmware's image, its stack nor either heap uses), not in .bss: the
// start-up code clears .bss, a reset does not clear PSRAM, so the files
// survive machine.reset() (a system reset, mcu/reset.sed) as they survive a
// real board's reset, and the host can hand QEMU a littlefs image built on
// the host (-device loader,file=IMAGE,addr=0x21000000; host_tools/mcu/image.py).
// Its size: MCU_FLASH_BYTES (1 MiB, as the virtual board's default), or what
// QEMU's loader wrote into the second word of SSRAM2/3 (tests hold more files
// than a board: -device loader,addr=0x20000004,data=BYTES,data-len=4; main.c
// reads the first word, the heap size, the same way).
#define MCU_FLASH_ADDR (0x21000000)
#define MCU_FLASH_MAX (12 * 1024 * 1024)     // the ROM partition follows (mcurom.c)
#define mcu_flash_mem ((uint8_t *)MCU_FLASH_ADDR)
#define MCU_FLASH_ASK (*(volatile uint32_t *)0x20000004)

static size_t mcu_flash_bytes(void) {
    uint32_t want = MCU_FLASH_ASK;
    if (want >= 16 * MCU_FLASH_BLOCK && want <= MCU_FLASH_MAX && want % MCU_FLASH_BLOCK == 0) {
        return want;
    }
    return MCU_FLASH_BYTES;
}

uint64_t mp_hal_time_ns(void) {
    return (uint64_t)mp_hal_ticks_ms() * 1000000ULL;
}

typedef struct _mcu_flash_obj_t {
    mp_obj_base_t base;
} mcu_flash_obj_t;

extern const mp_obj_type_t mcu_flash_type;
static const mcu_flash_obj_t mcu_flash_obj = {{&mcu_flash_type}};

static mp_obj_t mcu_flash_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    return MP_OBJ_FROM_PTR(&mcu_flash_obj);
}

// the byte range of (block, buf[, offset]), or OSError(EIO) outside the flash
static uint8_t *mcu_flash_range(size_t n_args, const mp_obj_t *args, mp_buffer_info_t *bufinfo,
    mp_uint_t flags) {
    mp_get_buffer_raise(args[2], bufinfo, flags);
    mp_int_t block = mp_obj_get_int(args[1]);
    mp_int_t off = n_args > 3 ? mp_obj_get_int(args[3]) : 0;
    if (block < 0 || off < 0 || block >= MCU_FLASH_BLOCKS
        || (size_t)block * MCU_FLASH_BLOCK + off + bufinfo->len > mcu_flash_bytes()) {
        mp_raise_OSError(MP_EIO);
    }
    return mcu_flash_mem + block * MCU_FLASH_BLOCK + off;
}

static mp_obj_t mcu_flash_readblocks(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t bufinfo;
    uint8_t *p = mcu_flash_range(n_args, args, &bufinfo, MP_BUFFER_WRITE);
    memcpy(bufinfo.buf, p, bufinfo.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mcu_flash_readblocks_obj, 3, 4, mcu_flash_readblocks);

static mp_obj_t mcu_flash_writeblocks(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t bufinfo;
    uint8_t *p = mcu_flash_range(n_args, args, &bufinfo, MP_BUFFER_READ);
    if (n_args == 3) {
        // the simple interface erases the blocks it writes
        memset(p, 0xff, (bufinfo.len + MCU_FLASH_BLOCK - 1) / MCU_FLASH_BLOCK * MCU_FLASH_BLOCK);
    }
    memcpy(p, bufinfo.buf, bufinfo.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mcu_flash_writeblocks_obj, 3, 4, mcu_flash_writeblocks);

static mp_obj_t mcu_flash_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(MCU_FLASH_BLOCKS);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(MCU_FLASH_BLOCK);
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE: {
            mp_int_t block = mp_obj_get_int(arg_in);
            if (block < 0 || block >= MCU_FLASH_BLOCKS) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
            }
            memset(mcu_flash_mem + block * MCU_FLASH_BLOCK, 0xff, MCU_FLASH_BLOCK);
            return MP_OBJ_NEW_SMALL_INT(0);
        }
        default:             // init, deinit, sync: nothing to do in RAM
            return MP_OBJ_NEW_SMALL_INT(0);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(mcu_flash_ioctl_obj, mcu_flash_ioctl);

static const mp_rom_map_elem_t mcu_flash_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&mcu_flash_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&mcu_flash_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&mcu_flash_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(mcu_flash_locals, mcu_flash_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    mcu_flash_type,
    MP_QSTR_Flash,
    MP_TYPE_FLAG_NONE,
    make_new, mcu_flash_make_new,
    locals_dict, &mcu_flash_locals
    );

static const mp_rom_map_elem_t mcuflash_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_mcuflash) },
    { MP_ROM_QSTR(MP_QSTR_Flash), MP_ROM_PTR(&mcu_flash_type) },
};
static MP_DEFINE_CONST_DICT(mcuflash_globals, mcuflash_globals_table);

const mp_obj_module_t mcuflash_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mcuflash_globals,
};

MP_REGISTER_MODULE(MP_QSTR_mcuflash, mcuflash_module);
