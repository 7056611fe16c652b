"""Runs a peer VRPTW solver on a Solomon instance, side by side with carefill.

Usage (Python 3.11, packages from PyPI):
    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install pyvrp ortools pyvroom numpy
    /tmp/peers/bin/python scripts/peers-solomon.py pyvrp|ortools|vroom FILE SECONDS

Prints: solver, instance, distance, vehicles, feasible, wall seconds. Distances
follow the DIMACS convention carefill's `bench-instance --format solomon` uses
(Euclidean, truncated to one decimal, x10 integers inside the solvers); the
objective is distance only, with the instance's vehicle limit. VROOM has no time
limit in its Python binding: it stops when its exploration level is done.
"""

import sys, math, time
import numpy as np
def load(path):
    lines=open(path).read().split('\n')
    veh=cap=None; rows=[]
    for i,l in enumerate(lines):
        t=l.split()
        if l.strip().startswith('NUMBER') and veh is None:
            v=lines[i+1].split(); veh,cap=int(v[0]),int(v[1])
        if len(t)==7 and all(x.replace('.','').isdigit() for x in t):
            rows.append([float(x) for x in t])
    return veh,cap,rows
def mat(rows):
    n=len(rows); D=np.zeros((n,n),dtype=np.int64)
    for i in range(n):
        for j in range(n):
            d=math.hypot(rows[i][1]-rows[j][1],rows[i][2]-rows[j][2])
            D[i,j]=int(math.floor(d*10+1e-9))  # DIMACS: truncate to one decimal
    return D
def dist(routes,D):
    return sum(D[0,r[0]]+sum(D[a,b] for a,b in zip(r,r[1:]))+D[r[-1],0] for r in routes if r)/10
def pyvrp_run(veh,cap,rows,D,T,seed):
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime
    m=Model()
    L=[m.add_location(x=r[1],y=r[2]) for r in rows]
    dep=m.add_depot(L[0],tw_early=int(rows[0][4]*10),tw_late=int(rows[0][5]*10))
    m.add_vehicle_type(num_available=veh,capacity=cap,tw_early=int(rows[0][4]*10),tw_late=int(rows[0][5]*10))
    cl=[m.add_client(L[i+1],delivery=int(r[3]),service_duration=int(r[6]*10),tw_early=int(r[4]*10),tw_late=int(r[5]*10)) for i,r in enumerate(rows[1:])]
    locs=L
    for i,a in enumerate(locs):
        for j,b in enumerate(locs):
            if i!=j: m.add_edge(a,b,distance=int(D[i,j]),duration=int(D[i,j]))
    res=m.solve(stop=MaxRuntime(T),seed=seed,display=False)
    b=res.best
    return b.distance()/10, b.num_routes(), b.is_feasible()
def ortools_run(veh,cap,rows,D,T,seed):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    n=len(rows)
    mgr=pywrapcp.RoutingIndexManager(n,veh,0); R=pywrapcp.RoutingModel(mgr)
    cb=R.RegisterTransitCallback(lambda i,j:int(D[mgr.IndexToNode(i),mgr.IndexToNode(j)]))
    R.SetArcCostEvaluatorOfAllVehicles(cb)
    tcb=R.RegisterTransitCallback(lambda i,j:int(D[mgr.IndexToNode(i),mgr.IndexToNode(j)]+rows[mgr.IndexToNode(i)][6]*10))
    hor=int(rows[0][5]*10)
    R.AddDimension(tcb,hor,hor,False,'T'); td=R.GetDimensionOrDie('T')
    for k in range(1,n): td.CumulVar(mgr.NodeToIndex(k)).SetRange(int(rows[k][4]*10),int(rows[k][5]*10))
    dcb=R.RegisterUnaryTransitCallback(lambda i:int(rows[mgr.IndexToNode(i)][3]))
    R.AddDimensionWithVehicleCapacity(dcb,0,[cap]*veh,True,'C')
    p=pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy=routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    p.local_search_metaheuristic=routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    p.time_limit.seconds=T
    s=R.SolveWithParameters(p)
    routes=[]
    for v in range(veh):
        i=R.Start(v); r=[]
        i=s.Value(R.NextVar(i))
        while not R.IsEnd(i): r.append(mgr.IndexToNode(i)); i=s.Value(R.NextVar(i))
        if r: routes.append(r)
    return dist(routes,D), len(routes), sum(map(len,routes))==len(rows)-1
def vroom_run(veh,cap,rows,D,T,seed):
    import vroom
    pb=vroom.Input()
    pb.set_durations_matrix(profile="car",matrix_input=D.tolist())
    pb.set_costs_matrix(profile="car",matrix_input=D.tolist())
    for k in range(veh):
        pb.add_vehicle(vroom.Vehicle(k+1,start=0,end=0,capacity=[cap],time_window=vroom.TimeWindow(int(rows[0][4]*10),int(rows[0][5]*10))))
    for i,r in enumerate(rows[1:],start=1):
        pb.add_job(vroom.Job(i,location=i,delivery=[int(r[3])],default_service=int(r[6]*10),time_windows=[vroom.TimeWindow(int(r[4]*10),int(r[5]*10))]))
    sol=pb.solve(exploration_level=5,nb_threads=2,timeout=__import__('datetime').timedelta(seconds=T)) if 'timeout' in pb.solve.__doc__ else pb.solve(exploration_level=5,nb_threads=2)
    df=sol.routes
    routes=[]
    for vid,g in df.groupby('vehicle_id'):
        r=[int(x) for x,t in zip(g['id'],g['type']) if t=='job']
        if r: routes.append(r)
    return dist(routes,D), len(routes), sum(map(len,routes))==len(rows)-1
if __name__=='__main__':
    solver,path,T=sys.argv[1],sys.argv[2],int(sys.argv[3])
    veh,cap,rows=load(path); D=mat(rows)
    t=time.time(); d,k,f={'pyvrp':pyvrp_run,'ortools':ortools_run,'vroom':vroom_run}[solver](veh,cap,rows,D,T,1)
    print(solver, path.split('/')[-1], round(d,1), k, f, round(time.time()-t,1))
