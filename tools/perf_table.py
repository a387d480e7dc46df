"""Issue-3 table: one read (X @ coef), NumPy two-pass, fastgrad squared/logistic/hessp, 1 vs 2 threads.

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/perf_table.py [500000x100C ...]
(about 3 minutes, needs ~1 GB; medians of 7, BLAS pinned to 1 thread for the NumPy side;
the 1- and 2-thread calls of each loss alternate, so a change of the host's speed
falls on both; "2thr" is the 1-thread time over the 2-thread time, then the GB/s of
the 1-thread call, which tools/bandwidth.py's 2-thread figure caps).
"""
import numpy as np, fastgrad, time, sys
from threadpoolctl import threadpool_limits
rng=np.random.default_rng(0)
def med(f,r=7):
    ts=[]
    for _ in range(r):
        t=time.perf_counter(); f(); ts.append(time.perf_counter()-t)
    return np.median(ts)
def med_pair(f1,f2,r=9):
    t1,t2=[],[]
    for _ in range(r):
        t=time.perf_counter(); f1(); t1.append(time.perf_counter()-t)
        t=time.perf_counter(); f2(); t2.append(time.perf_counter()-t)
    return np.median(t1),np.median(t2)
cases=[(500000,100,np.float64),(500000,100,np.float32),(40000,1000,np.float64),(4000000,8,np.float64)]
sel=sys.argv[1:] 
for m,n,dt in cases:
  for order in "CF":
    if sel and f"{m}x{n}{order}" not in sel: continue
    X=rng.standard_normal((m,n)).astype(dt); X = np.asfortranarray(X) if order=="F" else X
    y=rng.standard_normal(m).astype(dt); yl=(y>0).astype(dt); c=(rng.standard_normal(n)*0.1).astype(dt)
    with threadpool_limits(1):
        one=med(lambda: X@c)
        npt=med(lambda: X.T@(X@c-y))
    fg1,fg2=med_pair(lambda: fastgrad.value_and_grad(X,y,c,n_threads=1),
                     lambda: fastgrad.value_and_grad(X,y,c,n_threads=2))
    fgl,fgl2=med_pair(lambda: fastgrad.value_and_grad(X,yl,c,loss="logistic",n_threads=1),
                      lambda: fastgrad.value_and_grad(X,yl,c,loss="logistic",n_threads=2))
    fgh=med(lambda: fastgrad.hessp(X,yl,c,c,loss="logistic",n_threads=1))
    print(f"{m}x{n} {np.dtype(dt).name} {order}: read {one*1e3:.1f}ms ({X.nbytes/one/1e9:.1f}GB/s) np {npt*1e3:.1f} | sq {fg1*1e3:.1f} ({fg1/one:.2f}x read, {npt/fg1:.2f}x np, {X.nbytes/fg1/1e9:.1f}GB/s) logi {fgl*1e3:.1f} ({fgl/one:.2f}) hessp {fgh*1e3:.1f} ({fgh/one:.2f}) | 2thr sq {fg2*1e3:.1f} ({fg1/fg2:.2f}x, 1t {X.nbytes/fg1/1e9:.1f}GB/s) logi {fgl2*1e3:.1f} ({fgl/fgl2:.2f}x, 1t {X.nbytes/fgl/1e9:.1f}GB/s)", flush=True)
    del X
