/* Kernel stacks for ndis-host (x86-64 Linux): what Rust cannot write without inline assembly and
 * setjmp, both of which belong here rather than in the host's Rust.
 *
 * ndis_host_switch_stack(top, f, ctx) calls f(ctx) with the stack pointer at `top` and returns to
 * the caller's stack afterwards (rbp keeps the caller's stack pointer: it is callee-saved).
 *
 * ndis_host_guarded(top, f, ctx) does the same under a sigsetjmp: a fault in this thread's guard
 * page (ndis_host_set_guard) jumps back here and the call returns 1 instead of 0, so a driver
 * that overflows its kernel stack is reported by the verifier instead of killing the process.
 * Every other fault goes to the handler that was installed before (Rust's own, or the default). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)

void ndis_host_switch_stack(void *top, void (*f)(void *), void *ctx);
/* The CFI describes the caller's frame through rbp, so a backtrace taken on the new stack (the
 * verifier's allocation sites) walks on into the frames on the old one. */
__asm__(".text\n"
        ".globl ndis_host_switch_stack\n"
        ".type ndis_host_switch_stack,@function\n"
        "ndis_host_switch_stack:\n"
        "    .cfi_startproc\n"
        "    push %rbp\n"
        "    .cfi_def_cfa_offset 16\n"
        "    .cfi_offset %rbp, -16\n"
        "    mov %rsp, %rbp\n"
        "    .cfi_def_cfa_register %rbp\n"
        "    mov %rdi, %rsp\n"
        "    mov %rdx, %rdi\n"
        "    call *%rsi\n"
        "    mov %rbp, %rsp\n"
        "    .cfi_def_cfa_register %rsp\n"
        "    pop %rbp\n"
        "    .cfi_def_cfa_offset 8\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size ndis_host_switch_stack, .-ndis_host_switch_stack\n");

static __thread sigjmp_buf *current_env;
static __thread uintptr_t guard_low, guard_high;
static struct sigaction previous_segv, previous_bus;

void ndis_host_set_guard(uintptr_t low, uintptr_t high) {
    guard_low = low;
    guard_high = high;
}

int ndis_host_guarded(void *top, void (*f)(void *), void *ctx) {
    sigjmp_buf env;
    sigjmp_buf *previous = current_env;
    if (sigsetjmp(env, 1)) {
        current_env = previous;
        return 1;
    }
    current_env = &env;
    ndis_host_switch_stack(top, f, ctx);
    current_env = previous;
    return 0;
}

static void on_fault(int sig, siginfo_t *info, void *context) {
    uintptr_t at = (uintptr_t)info->si_addr;
    if (current_env && at >= guard_low && at < guard_high)
        siglongjmp(*current_env, 1);
    struct sigaction *previous = sig == SIGSEGV ? &previous_segv : &previous_bus;
    if ((previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction) {
        previous->sa_sigaction(sig, info, context);
        return;
    }
    if (!(previous->sa_flags & SA_SIGINFO) && previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
        previous->sa_handler(sig);
        return;
    }
    /* The default action: returning re-executes the faulting access, which now ends the process. */
    sigaction(sig, previous, NULL);
}

int ndis_host_install_fault_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous_segv) != 0)
        return -1;
    if (sigaction(SIGBUS, &sa, &previous_bus) != 0)
        return -1;
    return 0;
}

#endif

/* The page size, from libc (sysconf reads the auxiliary vector the C library kept). rustix's own
   reader validates the vDSO's ELF header first, which is not mapped under valgrind, so callgrind
   could not run the host. */
size_t ndis_host_page_size(void) {
    long size = sysconf(_SC_PAGESIZE);
    return size > 0 ? (size_t)size : 4096;
}
