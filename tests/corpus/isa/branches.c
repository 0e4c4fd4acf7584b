/* ISA corpus: conditional branches of every comparison, 64- and 32-bit, loops and a switch. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

volatile __u64 u[4];
volatile __s64 s[4];
volatile __u32 u32v[4];
volatile __s32 s32v[4];
volatile __u64 out[16];

SEC("socket")
int compare64(void *ctx)
{
    __u64 a = u[0], b = u[1];
    __s64 c = s[0], d = s[1];
    int r = 0;
    if (a == b) r += 1;
    if (a != 7) r += 2;
    if (a > b) r += 3;
    if (a >= 100) r += 4;
    if (a < b) r += 5;
    if (a <= 1000) r += 6;
    if (c > d) r += 7;
    if (c >= -5) r += 8;
    if (c < d) r += 9;
    if (c <= -100) r += 10;
    if (a & 0x10) r += 11;
    if (a & b) r += 12;
    return r;
}

SEC("socket")
int compare32(void *ctx)
{
    __u32 a = u32v[0], b = u32v[1];
    __s32 c = s32v[0], d = s32v[1];
    int r = 0;
    if (a == b) r += 1;
    if (a != 7) r += 2;
    if (a > b) r += 3;
    if (a >= 100) r += 4;
    if (a < b) r += 5;
    if (a <= 1000) r += 6;
    if (c > d) r += 7;
    if (c >= -5) r += 8;
    if (c < d) r += 9;
    if (c <= -100) r += 10;
    if (a & 0x10) r += 11;
    return r;
}

SEC("socket")
int loops(void *ctx)
{
    __u64 acc = 0;
    for (int i = 0; i < 64; i++) {
        if (u[i & 3] > (__u64)i)
            acc += u[i & 3] * i;
        else
            acc ^= i;
    }
    __u32 n = u32v[2] & 31;
    while (n--)
        acc = (acc << 1) | (acc >> 63);
    out[0] = acc;
    switch (u32v[3]) {
    case 0: return 10;
    case 1: return 20;
    case 5: return 30;
    case 9: return 40;
    default: return 0;
    }
}

char LICENSE[] SEC("license") = "GPL";
