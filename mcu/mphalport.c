/*
 * pumpmon's mphalport.c for the MicroPython qemu port (`make mcu` copies it
 * over ports/qemu/mphalport.c). Upstream's reads its UART only when the
 * firmware reads its console and waits by spinning. A board's UART or USB
 * takes every byte by interrupt: the interrupt character (Ctrl-C, when
 * mp_interrupt_char says so) becomes a KeyboardInterrupt wherever the
 * firmware is, the other bytes wait in a buffer for the console. The CMSDK
 * UART here has no receive interrupt wired up, so this file does the same by
 * polling it wherever the firmware waits or asks about its console:
 * - time.sleep_ms() (mp_hal_delay_ms: the monitor's loop sleeps there between
 *   passes) takes the UART's bytes (rx_poll), raises a pending
 *   KeyboardInterrupt, and waits for the next interrupt (WFI; SysTick wakes
 *   the CPU every millisecond) instead of spinning;
 * - select.poll on stdin (mp_hal_stdio_poll: the monitor's console channel)
 *   takes them too, so a Ctrl-C is never read as data by a running program;
 * - mp_hal_stdin_rx_chr() serves the buffer first, and waits with WFI once
 *   the REPL has had no byte for a second (its next byte is then read up to
 *   1 ms late; a transfer in progress polls at full speed: a shorter wait
 *   slowed mpremote mount several times over).
 * No byte is lost: when the buffer is full the UART is left alone and QEMU
 * holds the rest (its UART takes no byte while one waits). docs/mcu.md gives
 * the figures.
 *
 * Derived from ports/qemu/mphalport.c of MicroPython v1.28.0:
 * The MIT License (MIT), Copyright (c) 2024 Damien P. George
 * (the full licence text is in the MicroPython source's LICENSE).
 */
#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "shared/runtime/interrupt_char.h"
#include "uart.h"

uintptr_t ticks_ms(void);
uintptr_t ticks_us(void);

// Bytes taken from the UART, not yet read by the firmware (a power of two).
#define RX_BUF_SIZE (256)
static uint8_t rx_buf[RX_BUF_SIZE];
static uint32_t rx_head; // next byte written: rx_buf[rx_head % RX_BUF_SIZE]
static uint32_t rx_tail; // next byte read

// What a board's UART interrupt does with each byte that arrives.
static void rx_poll(void) {
    while (rx_head - rx_tail < RX_BUF_SIZE) {
        int c = uart_rx_chr();
        if (c < 0) {
            return;
        }
        if (c == mp_interrupt_char) {
            mp_sched_keyboard_interrupt();
        } else {
            rx_buf[rx_head++ % RX_BUF_SIZE] = c;
        }
    }
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    if (poll_flags & MP_STREAM_POLL_RD) {
        rx_poll();
        if (rx_head != rx_tail) {
            return MP_STREAM_POLL_RD;
        }
    }
    return 0;
}

int mp_hal_stdin_rx_chr(void) {
    uintptr_t idle_t0 = ticks_ms();
    for (;;) {
        rx_poll();
        if (rx_head != rx_tail) {
            return rx_buf[rx_tail++ % RX_BUF_SIZE];
        }
        mp_handle_pending(MP_HANDLE_PENDING_CALLBACKS_AND_EXCEPTIONS);
        if (ticks_ms() - idle_t0 > 1000) {
            __asm volatile ("wfi");
        }
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    uart_tx_strn(str, len);
    return len;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return ticks_ms();
}

mp_uint_t mp_hal_ticks_us(void) {
    return ticks_us();
}

void mp_hal_delay_ms(mp_uint_t ms) {
    mp_uint_t start = mp_hal_ticks_ms();
    for (;;) {
        rx_poll();
        mp_handle_pending(MP_HANDLE_PENDING_CALLBACKS_AND_EXCEPTIONS);
        if (mp_hal_ticks_ms() - start >= ms) {
            return;
        }
        __asm volatile ("wfi");
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    mp_uint_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < us) {
    }
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return 0;
}

// Provide a dummy version of mp_hal_get_random() using a LCG
static uint32_t random_state;
void mp_hal_get_random(size_t n, uint8_t *buf) {
    for (size_t i = 0; i < n; ++i) {
        random_state = random_state * 1664525 + 1013904223;
        buf[i] = random_state >> 24;
    }
}
