/* ISA corpus: bpf-to-bpf calls between static and global functions, and a bpf_loop callback. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

volatile __u64 in[4];

static __attribute__((noinline)) __u64 square(__u64 x)
{
    return x * x;
}

static __attribute__((noinline)) __u64 sum_squares(__u64 a, __u64 b)
{
    return square(a) + square(b);
}

__attribute__((noinline)) int global_helper(int x)
{
    return x * 3 + 1;
}

static int add_index(__u32 index, void *data)
{
    *(__u64 *)data += index;
    return 0;
}

SEC("socket")
int calls(void *ctx)
{
    __u64 acc = sum_squares(in[0], in[1]);
    acc += global_helper((int)in[2]);
    return (int)acc;
}

#if __BPF_CPU_VERSION__ >= 2
SEC("socket")
int loop_callback(void *ctx)
{
    __u64 total = 0;
    bpf_loop(16, add_index, &total, 0);
    return (int)total;
}
#endif

char LICENSE[] SEC("license") = "GPL";
