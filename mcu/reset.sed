# `make mcu` applies this to ports/qemu/modmachine.c: upstream's
# machine.reset() ends QEMU (a semihosting exit), so a board that `pumpmon
# flash` resets would be gone. Here it is a system reset, as on a real
# Cortex-M (SCB AIRCR: SYSRESETREQ): QEMU restarts the firmware on the same
# pty, the flash (in PSRAM, mcuflash.c) keeps its files, boot.py and main.py run.
/^static void mp_machine_reset(void) {/,/^}/s/^\( *\)exit(0);/\1*(volatile uint32_t *)0xe000ed0c = 0x05fa0004;\n\1for (;;) {\n\1}/
s|// Exit qemu (via semihosting call).|// A system reset (pumpmon: mcu/reset.sed).|
