/* DbgPrint for ndis-host: formats like the kernel's DbgPrint and hands the text to Rust, which keeps
 * it in the capture tests read. Stable Rust cannot define a variadic function, hence this file.
 *
 * On x86-64 the driver calls it with the Windows x64 convention, as a kernel image calls
 * ntoskrnl's DbgPrint (ndis::kernel_abi), so it is an ms_abi function reading an ms_abi va_list:
 * vsnprintf takes only the System V one, so the conversions are done here. It understands what
 * a driver's debug output uses: %s %c %d %i %u %x %X %p %%, with the l, ll, z and I64 size prefixes
 * (width and precision are read and ignored). Elsewhere it is a plain C variadic function. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern void ndis_host_dbg_print(const char *text, size_t len);

#if defined(__x86_64__)
#define DBG_ABI __attribute__((ms_abi))
#define DBG_VA_LIST __builtin_ms_va_list
#define DBG_VA_START(ap, last) __builtin_ms_va_start(ap, last)
#define DBG_VA_END(ap) __builtin_ms_va_end(ap)
#else
#define DBG_ABI
#define DBG_VA_LIST va_list
#define DBG_VA_START(ap, last) va_start(ap, last)
#define DBG_VA_END(ap) va_end(ap)
#endif

struct out {
    char buf[1024];
    size_t len;
};

static void put(struct out *o, const char *s, size_t n) {
    size_t room = sizeof o->buf - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* ULONG DbgPrint(PCSTR Format, ...): returns an NTSTATUS (STATUS_SUCCESS). */
DBG_ABI unsigned int DbgPrint(const char *format, ...) {
    struct out o = {.len = 0};
    DBG_VA_LIST ap;
    DBG_VA_START(ap, format);
    for (const char *p = format; p && *p; p++) {
        if (*p != '%') {
            put(&o, p, 1);
            continue;
        }
        p++;
        while (*p == '-' || *p == '+' || *p == ' ' || *p == '#' || *p == '0')
            p++;
        while ((*p >= '0' && *p <= '9') || *p == '.' || *p == '*')
            p++;
        int wide = 0; /* 64-bit argument */
        if (p[0] == 'I' && p[1] == '6' && p[2] == '4') {
            wide = 1;
            p += 3;
        } else if (*p == 'z' || *p == 'j') {
            wide = 1;
            p++;
        } else if (*p == 'l') {
            wide = 1; /* long is 32-bit on Windows, but a driver's %ld argument is promoted anyway */
            p++;
            if (*p == 'l')
                p++;
        } else if (*p == 'h') {
            p++;
            if (*p == 'h')
                p++;
        }
        char text[64];
        int n = 0;
        switch (*p) {
        case 's': {
            const char *s = __builtin_va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            put(&o, s, strlen(s));
            break;
        }
        case 'c':
            text[0] = (char)__builtin_va_arg(ap, int);
            put(&o, text, 1);
            break;
        case 'd':
        case 'i':
            n = wide ? snprintf(text, sizeof text, "%lld", (long long)__builtin_va_arg(ap, int64_t))
                     : snprintf(text, sizeof text, "%d", __builtin_va_arg(ap, int));
            put(&o, text, (size_t)n);
            break;
        case 'u':
        case 'x':
        case 'X': {
            const char *f = *p == 'u' ? "%llu" : *p == 'x' ? "%llx" : "%llX";
            unsigned long long v =
                wide ? (unsigned long long)__builtin_va_arg(ap, uint64_t) : __builtin_va_arg(ap, unsigned int);
            n = snprintf(text, sizeof text, f, v);
            put(&o, text, (size_t)n);
            break;
        }
        case 'p':
            n = snprintf(text, sizeof text, "%p", __builtin_va_arg(ap, void *));
            put(&o, text, (size_t)n);
            break;
        case '%':
            put(&o, "%", 1);
            break;
        case '\0':
            p--;
            break;
        default:
            put(&o, p - 1, 2);
            break;
        }
    }
    DBG_VA_END(ap);
    ndis_host_dbg_print(o.buf, o.len);
    return 0;
}
