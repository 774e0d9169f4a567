#!/bin/sh
# An S3 service from Debian's Ceph for the local compose run (MinIO cannot be had offline):
# one monitor, one in-memory OSD, radosgw on :9000, auth off inside the container, and an S3
# user with S3_ACCESS_KEY / S3_SECRET_KEY. Data lives in memory: a restart starts empty.
set -eu
: "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
d=/var/lib/lw-ceph
rm -rf "$d" && mkdir -p "$d/run" "$d/log" "$d/mon.a" "$d/osd.0" "$d/rgw.rgw.a"
fsid=$(cat /proc/sys/kernel/random/uuid)
cat > "$d/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:6789
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
ms bind msgr2 = false
ms bind ipv6 = false
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = $d/run
admin socket = $d/run/\$name.asok
pid file = $d/run/\$name.pid
log file = $d/log/\$name.log
mon data = $d/mon.\$id
osd data = $d/osd.\$id
rgw data = $d/rgw.\$id
[osd.0]
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 256
osd max object namespace len = 64
osd class update on start = false
osd crush update on start = false
[client.rgw.a]
rgw frontends = beast endpoint=0.0.0.0:9000
CONF
c="-c $d/ceph.conf"
monmaptool --create --addv a '[v1:127.0.0.1:6789]' --fsid "$fsid" "$d/monmap" >/dev/null
ceph-authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-mon $c --mkfs -i a --monmap "$d/monmap" --keyring "$d/mon.keyring"
ceph-mon $c -i a
uuid=$(cat /proc/sys/kernel/random/uuid)
ceph $c osd create "$uuid" >/dev/null
ceph $c osd crush add osd.0 1 root=default >/dev/null
ceph-osd $c -i 0 --mkfs --osd-uuid "$uuid" 2>/dev/null
ceph-osd $c -i 0
radosgw $c -n client.rgw.a
i=0
until radosgw-admin $c user create --uid=lw --display-name=lw --access-key="$S3_ACCESS_KEY" --secret="$S3_SECRET_KEY" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 120 ] || { tail -n 30 "$d"/log/*.log; exit 1; }; sleep 0.5
done
echo "radosgw ready on :9000"
touch "$d/ready"
# Stay in the foreground while the daemons run; exit (and let compose restart) if one dies.
alive() { for f in "$d"/run/*.pid; do kill -0 "$(cat "$f")" 2>/dev/null || return 1; done; }
while alive; do sleep 2; done
echo "a ceph daemon exited" >&2; tail -n 30 "$d"/log/*.log >&2; exit 1
