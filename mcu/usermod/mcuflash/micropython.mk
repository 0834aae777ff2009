# pumpmon's user C module for the MicroPython qemu port (make mcu): the
# board's flash (a block device in RAM that survives a soft reset) and the
# clock littlefs stamps files with (mp_hal_time_ns, which the port lacks);
# mcurom.c: the ROM partition ROMFS runs from (vfs.rom_ioctl).
MCUFLASH_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(MCUFLASH_DIR)/mcuflash.c $(MCUFLASH_DIR)/mcurom.c
