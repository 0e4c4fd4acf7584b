/* Programs the kernel verifier would reject: the VM must stop them with a clear error instead. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int read_past_the_packet(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    __u32 far = *(volatile __u32 *)(data + 200);   /* no bounds check against data_end */
    return far == 7 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int spin_forever(struct xdp_md *ctx)
{
    volatile __u64 n = 0;
    for (;;)
        n++;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
