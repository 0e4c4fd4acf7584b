/* ISA corpus: 64- and 32-bit arithmetic, shifts, signed division and modulo, negation. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

volatile __u64 in64[4];
volatile __s64 sin64[4];
volatile __u32 in32[4];
volatile __s32 sin32[4];
volatile __u64 out[32];

SEC("socket")
int arith64(void *ctx)
{
    __u64 a = in64[0], b = in64[1] | 1;
    out[0] = a + b;
    out[1] = a - b;
    out[2] = a * b;
    out[3] = a / b;
    out[4] = a % b;
    out[5] = a << (b & 63);
    out[6] = a >> 7;
    out[7] = (__u64)(sin64[0] >> (b & 63));
    out[8] = a ^ 0x5a5a5a5a;
    out[9] = a & ~b;
    out[10] = -a;
    out[11] = a * 1000003;
    out[12] = a / 10;
    out[13] = a + 0x123456789abcdefULL;
    return 0;
}

SEC("socket")
int arith32(void *ctx)
{
    __u32 a = in32[0], b = in32[1] | 1;
    out[14] = a + b;
    out[15] = a - 77;
    out[16] = a * b;
    out[17] = a / b;
    out[18] = a % 13;
    out[19] = (__u32)(a << (b & 31));
    out[20] = a >> (b & 31);
    out[21] = (__u32)(sin32[0] >> 3);
    out[22] = (__u32)-a;
    out[23] = a | 0x80000000u;
    return 0;
}

#if __BPF_CPU_VERSION__ >= 4
SEC("socket")
int signed_divmod(void *ctx)
{
    __s64 a = sin64[0], b = sin64[1] | 1;
    __s32 c = sin32[0], d = sin32[1] | 1;
    out[24] = (__u64)(a / b);
    out[25] = (__u64)(a % b);
    out[26] = (__u64)(a / -7);
    out[27] = (__u64)(__s64)(c / d);
    out[28] = (__u64)(__s64)(c % d);
    out[29] = (__u64)(__s64)(c % -5);
    return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
