/* DbgPrint for ndis-host: formats like the kernel's DbgPrint (printf conversions) and hands the
 * text to Rust, which keeps it in the capture tests read. Stable Rust cannot define a variadic
 * function, hence this file. */
#include <stdarg.h>
#include <stdio.h>

extern void ndis_host_dbg_print(const char *text, size_t len);

/* ULONG DbgPrint(PCSTR Format, ...): returns an NTSTATUS (STATUS_SUCCESS). */
unsigned int DbgPrint(const char *format, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(buf, sizeof buf, format, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    ndis_host_dbg_print(buf, (size_t)n);
    return 0;
}
