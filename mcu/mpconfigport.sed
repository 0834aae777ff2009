# make mcu: the qemu port's mpconfigport.h turns on ROMFS (MICROPY_VFS_ROM)
# but not its ioctl, so it has no ROM partition: vfs.rom_ioctl() is missing
# and nothing is mounted at /rom. This sets MICROPY_VFS_ROM_IOCTL to 1; the
# partition itself is mcu/usermod/mcuflash/mcurom.c (docs/mcu.md, "ROM").
s/^#define MICROPY_VFS_ROM_IOCTL[[:space:]]*(0)/#define MICROPY_VFS_ROM_IOCTL       (1)/
