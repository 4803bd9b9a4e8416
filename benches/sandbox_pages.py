# Requests/s of 500-order pages against a running `paydesk sandbox` (the JSON line on argv[1]).
import http.client, json, random, sys, threading, time, urllib.parse
info = json.load(open(sys.argv[1]))
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
mode = sys.argv[4] if len(sys.argv) > 4 else "range"
u = urllib.parse.urlparse(info["base_url"])
token = info["cny"]["auth_token"]
# learn the span: newest and oldest order
def get(conn, q):
    conn.request("GET", "/gateway/api/v2/payouts?" + q, headers={"Authorization": token})
    r = conn.getresponse(); body = r.read()
    return body
c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
t0 = time.time(); first = json.loads(get(c, "limit=1")); print("one plain request took %.3f s" % (time.time()-t0))
total = first["total"]; newest = first["data"][0]["create_time"]
last = json.loads(get(c, "limit=1&offset=%d" % (total-1)))["data"][0]["create_time"]
print("total", total, "span", newest - last)
done = [0]; nbytes = [0]; lock = threading.Lock(); stop = time.time() + secs
def worker(seed):
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    n = b = 0
    while time.time() < stop:
        if mode == "range":
            # a one-day window somewhere in the span, a random page inside it
            start = rnd.randrange(last, newest - 86400)
            q = "create_time__gte=%d&create_time__lte=%d&limit=500&offset=%d" % (start, start + 86400, rnd.randrange(0, 10000))
        else:
            q = "limit=500&offset=%d" % rnd.randrange(0, total - 500)
        body = get(conn, q)
        n += 1; b += len(body)
    with lock:
        done[0] += n; nbytes[0] += b
ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
t0 = time.time()
for t in ts: t.start()
for t in ts: t.join()
el = time.time() - t0
print("mode %s threads %d: %d requests in %.1f s = %.1f req/s, %.1f MB/s" % (mode, threads, done[0], el, done[0]/el, nbytes[0]/el/1e6))
