# Runs inside a container (busybox sh), started by bench/run.sh as: sh -c "$(cat bench/workload.sh)" workload MIB FILES LOOP
# Rootfs sequential write (fsync'd) and read, small-file operations (create, stat, remove) and a
# CPU-bound loop, each timed with the container's own clock (/proc/uptime, 10 ms steps). Prints
# "M NAME UNIT AMOUNT CENTISECONDS" lines that moat-bench turns into rates.
mib=$1 files=$2 loop=$3
now() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
t0=$(now)
dd if=/dev/zero of=/bench.dat bs=1M count="$mib" conv=fsync 2>/dev/null
t1=$(now)
dd if=/bench.dat of=/dev/null bs=1M 2>/dev/null
t2=$(now)
rm -f /bench.dat
mkdir /bench.d && cd /bench.d && seq 1 "$files" | xargs touch && ls -l > /dev/null && cd / && rm -r /bench.d
t3=$(now)
awk -v n="$loop" 'BEGIN { for (i = 0; i < n; i++) s += i % 7 }'
t4=$(now)
echo "M rootfs-seq-write MiB/s $mib $((t1 - t0))"
echo "M rootfs-seq-read MiB/s $mib $((t2 - t1))"
echo "M small-file-ops ops/s $((files * 3)) $((t3 - t2))"
echo "M cpu-loop s 0 $((t4 - t3))"
