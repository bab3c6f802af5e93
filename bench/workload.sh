# Runs inside a container (busybox sh), started by bench/run.sh as:
#   sh -c "$(cat bench/workload.sh)" workload MIB FILES LOOP NULL_MIB
# Rootfs sequential write (fsync'd) and read, small-file operations (create, stat, remove) and a
# CPU-bound loop, each timed with the container's own clock (/proc/uptime, 10 ms steps); then the
# ceilings the VM itself sets, the same work without the share, the console or the NIC: the
# small-file operations in a tmpfs (/dev/shm), NULL_MIB copied to /dev/null (what stdout is
# measured against), and, when /share/f is bind-mounted from the host, that host-written file read
# three times through the share against the same bytes read three times from a tmpfs.
# Prints "M NAME UNIT AMOUNT CENTISECONDS" lines that moat-bench turns into rates.
mib=$1 files=$2 loop=$3 null_mib=${4:-0}
now() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
small_files() { mkdir "$1" && cd "$1" && seq 1 "$files" | xargs touch && ls -l > /dev/null && cd / && rm -r "$1"; }
t0=$(now)
dd if=/dev/zero of=/bench.dat bs=1M count="$mib" conv=fsync 2>/dev/null
t1=$(now)
dd if=/bench.dat of=/dev/null bs=1M 2>/dev/null
t2=$(now)
rm -f /bench.dat
small_files /bench.d
t3=$(now)
awk -v n="$loop" 'BEGIN { for (i = 0; i < n; i++) s += i % 7 }'
t4=$(now)
echo "M rootfs-seq-write MiB/s $mib $((t1 - t0))"
echo "M rootfs-seq-read MiB/s $mib $((t2 - t1))"
echo "M small-file-ops ops/s $((files * 3)) $((t3 - t2))"
echo "M cpu-loop s 0 $((t4 - t3))"
t0=$(now)
small_files /dev/shm/bench.d
t1=$(now)
echo "M tmpfs-small-file-ops ops/s $((files * 3)) $((t1 - t0))"
if [ "$null_mib" -gt 0 ]; then
  t0=$(now)
  dd if=/dev/zero of=/dev/null bs=1M count="$null_mib" 2>/dev/null
  t1=$(now)
  echo "M devnull MiB/s $null_mib $((t1 - t0))"
fi
if [ -f /share/f ]; then
  share_mib=$(( $(wc -c < /share/f) / 1048576 ))
  t0=$(now)
  for i in 1 2 3; do dd if=/share/f of=/dev/null bs=1M 2>/dev/null; done
  t1=$(now)
  echo "M share-read MiB/s $((share_mib * 3)) $((t1 - t0))"
  # The same bytes from a tmpfs, as many as /dev/shm holds (ctr gives it 64 MiB).
  tmp_mib=$(( share_mib < 48 ? share_mib : 48 ))
  dd if=/share/f of=/dev/shm/f bs=1M count="$tmp_mib" 2>/dev/null
  t0=$(now)
  for i in 1 2 3; do dd if=/dev/shm/f of=/dev/null bs=1M 2>/dev/null; done
  t1=$(now)
  rm -f /dev/shm/f
  echo "M tmpfs-read MiB/s $((tmp_mib * 3)) $((t1 - t0))"
fi
