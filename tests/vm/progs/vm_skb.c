/* tc and socket-filter programs for the VM: NAT-style rewrite with checksum helpers, skb fields. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IP_DST_OFF (ETH_HLEN + offsetof(struct iphdr, daddr))
#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define UDP_CSUM_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct udphdr, check))

const volatile __u32 new_daddr = 0x0a0ac80a;      /* 10.200.10.10 in network order */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} seen SEC(".maps");

SEC("tc")
int tc_dnat(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + ETH_HLEN;
    if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    __u32 k = 0;
    __u64 v = skb->len;
    bpf_map_update_elem(&seen, &k, &v, BPF_ANY);
    k = 1; v = skb->protocol;
    bpf_map_update_elem(&seen, &k, &v, BPF_ANY);
    if (ip->protocol != IPPROTO_UDP || ip->ihl != 5)
        return TC_ACT_OK;
    __u32 old = ip->daddr;
    __u32 new = new_daddr;
    bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old, new, BPF_F_PSEUDO_HDR | sizeof(new));
    bpf_l3_csum_replace(skb, IP_CSUM_OFF, old, new, sizeof(new));
    bpf_skb_store_bytes(skb, IP_DST_OFF, &new, sizeof(new), 0);
    __u8 first[4];
    if (bpf_skb_load_bytes(skb, IP_DST_OFF, first, 4) == 0) {
        k = 2; v = *(__u32 *)first;
        bpf_map_update_elem(&seen, &k, &v, BPF_ANY);
    }
    skb->mark = 0x42;
    return TC_ACT_OK;
}

SEC("socket")
int sock_len(struct __sk_buff *skb)
{
    __u8 proto = 0;
    bpf_skb_load_bytes(skb, offsetof(struct iphdr, protocol), &proto, 1);
    __u32 k = 3;
    __u64 v = ((__u64)proto << 32) | skb->len;
    bpf_map_update_elem(&seen, &k, &v, BPF_ANY);
    return skb->len;
}

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 32);
    __type(key, __u32);
    __type(value, __u64);
} fields SEC(".maps");

#define DUMP(i, expr) do { __u32 k = (i); __u64 v = (expr); bpf_map_update_elem(&fields, &k, &v, BPF_ANY); } while (0)

SEC("tc")
int tc_fields(struct __sk_buff *skb)
{
    DUMP(0, skb->len);
    DUMP(1, skb->pkt_type);
    DUMP(2, skb->mark);
    DUMP(3, skb->queue_mapping);
    DUMP(4, skb->protocol);
    DUMP(5, skb->vlan_present);
    DUMP(6, skb->vlan_tci);
    DUMP(7, skb->vlan_proto);
    DUMP(8, skb->priority);
    DUMP(9, skb->ingress_ifindex);
    DUMP(10, skb->ifindex);
    DUMP(11, skb->tc_index);
    DUMP(12, skb->cb[0]);
    DUMP(13, skb->cb[4]);
    DUMP(14, skb->hash);
    DUMP(15, skb->tc_classid);
    DUMP(16, skb->data_end - skb->data);
    DUMP(17, skb->napi_id);
    DUMP(18, skb->wire_len);
    DUMP(19, skb->gso_segs);
    DUMP(20, skb->gso_size);
    DUMP(21, skb->tstamp);
    DUMP(22, skb->data_meta == skb->data);
    skb->mark = 7;
    skb->priority = 3;
    skb->cb[1] = 0xcafe;
    return TC_ACT_SHOT;
}
