/* ISA corpus: atomic add/and/or/xor with and without fetch, xchg and cmpxchg, 32 and 64 bit. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

__u64 c64[8];
__u32 c32[8];
volatile __u64 out[16];

SEC("socket")
int atomic_plain(void *ctx)
{
    __sync_fetch_and_add(&c64[0], 1);
    __sync_fetch_and_add(&c32[0], 3);
#if __BPF_CPU_VERSION__ >= 3
    __atomic_fetch_and(&c64[1], 0xff, __ATOMIC_RELAXED);
    __atomic_fetch_or(&c64[2], 0x100, __ATOMIC_RELAXED);
    __atomic_fetch_xor(&c64[3], 0x55, __ATOMIC_RELAXED);
    __atomic_fetch_and(&c32[1], 0xff, __ATOMIC_RELAXED);
    __atomic_fetch_or(&c32[2], 0x100, __ATOMIC_RELAXED);
    __atomic_fetch_xor(&c32[3], 0x55, __ATOMIC_RELAXED);
#endif
    return 0;
}

#if __BPF_CPU_VERSION__ >= 3
SEC("socket")
int atomic_fetch(void *ctx)
{
    out[0] = __sync_fetch_and_add(&c64[4], 5);
    out[1] = __sync_fetch_and_and(&c64[5], 6);
    out[2] = __sync_fetch_and_or(&c64[6], 7);
    out[3] = __sync_fetch_and_xor(&c64[7], 8);
    out[4] = __sync_fetch_and_add(&c32[4], 5);
    out[5] = __sync_fetch_and_and(&c32[5], 6);
    out[6] = __sync_fetch_and_or(&c32[6], 7);
    out[7] = __sync_fetch_and_xor(&c32[7], 8);
    return 0;
}

SEC("socket")
int atomic_exchange(void *ctx)
{
    out[8] = __sync_lock_test_and_set(&c64[0], 99);
    out[9] = __sync_lock_test_and_set(&c32[0], 98);
    out[10] = __sync_val_compare_and_swap(&c64[1], 1, 2);
    out[11] = __sync_val_compare_and_swap(&c32[1], 3, 4);
    out[12] = __sync_bool_compare_and_swap(&c64[2], out[0], 5);
    return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
