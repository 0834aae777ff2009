# `make mcu` applies this to ports/qemu/mphalport.c: the port polls its UART
# and its clock without ever sleeping, so an idle QEMU burns most of a host
# core. Here the CPU waits for the next interrupt (WFI; SysTick wakes it every
# millisecond) while time.sleep_ms() waits, and while the REPL has had no
# byte for a second (its next byte is then read up to 1 ms late; a transfer in
# progress keeps polling at full speed: a shorter wait slowed mpremote mount
# several times over). docs/mcu.md gives the figures.
/^int mp_hal_stdin_rx_chr(void) {/a\    uintptr_t idle_t0 = ticks_ms();
s/^\( *\)int c = uart_rx_chr();/\1if (ticks_ms() - idle_t0 > 1000) {\n\1    __asm volatile ("wfi");\n\1}\n\1int c = uart_rx_chr();/
s/^\( *\)while (mp_hal_ticks_ms() - start < ms) {/&\n\1    __asm volatile ("wfi");/
