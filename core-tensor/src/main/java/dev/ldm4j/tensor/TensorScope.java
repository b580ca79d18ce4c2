// A region of model code whose intermediate tensors are freed when it ends, as PyTorch frees a
// forward pass's temporaries when their last reference goes. Java's collector does not see device
// memory (a tensor object is a few hundred bytes of heap, its block may be hundreds of megabytes), so
// without this a GPU would hold dead activations until the next collection.
//
//   try (TensorScope scope = TensorScope.open()) {
//       Tensor h = norm.forward(x);                // freed at the end of the block
//       Tensor y = conv.forward(h);
//       scope.release(h);                          // ... or as soon as the block is done with it
//       return scope.keep(act.forward(y));         // handed to the caller (and to the enclosing scope)
//   }
//
// A backend that can free memory early (the CUDA backend) reports each result it allocates with
// made(); when the innermost open scope of that thread closes, every tensor reported inside it is
// released (Backend.release), except those whose storage was kept: those move to the enclosing scope,
// which frees them when it ends unless it keeps them too. Arguments from outside a scope are never
// reported inside it, so a scope frees only what was made inside it. Backends that free nothing (the
// CPU backend, whose arrays the collector sees) report nothing, and a scope costs nothing there.
// Scopes belong to one thread and nest; suspend() hides them (a recording's buffers must outlive them).
package dev.ldm4j.tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

public final class TensorScope implements AutoCloseable {
    private record Made(Backend owner, Tensor tensor) {
    }

    /** What suspend() returns: closing it brings the hidden scopes back. */
    public interface Suspension extends AutoCloseable {
        @Override
        void close();
    }

    private static final ThreadLocal<TensorScope> CURRENT = new ThreadLocal<>();

    private final TensorScope parent;
    private final List<Made> made = new ArrayList<>();
    private final Set<Storage> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;

    private TensorScope(TensorScope parent) {
        this.parent = parent;
    }

    /** Opens a scope inside the current one (if any) of this thread. */
    public static TensorScope open() {
        TensorScope s = new TensorScope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /**
     * Called by a backend for a result it has just allocated: the innermost open scope of this thread
     * will release it through owner when it closes. Does nothing outside a scope.
     */
    public static void made(Backend owner, Tensor t) {
        TensorScope s = CURRENT.get();
        if (s != null) {
            s.made.add(new Made(owner, t));
        }
    }

    /**
     * Hides this thread's scopes until the returned handle is closed: what is made meanwhile belongs to
     * no scope (for buffers that must outlive them, such as a recording's). Scopes opened meanwhile
     * work as usual and hand what they keep to nobody.
     */
    public static Suspension suspend() {
        TensorScope saved = CURRENT.get();
        CURRENT.remove();
        boolean[] resumed = {false};
        return () -> {
            if (!resumed[0]) {
                resumed[0] = true;
                CURRENT.set(saved);
            }
        };
    }

    /** Marks t's storage (shared by all its views) as surviving this scope; returns t. */
    public Tensor keep(Tensor t) {
        kept.add(t.storage());
        return t;
    }

    /**
     * Releases t now when it was made inside this scope and not kept (the block is done with it, and
     * the next op may reuse its memory); does nothing for anything else, such as the block's argument,
     * or when one of stillUsed shares t's storage (Backend.contiguous returns its argument when that is
     * already dense, so its result may be t itself).
     */
    public void release(Tensor t, Tensor... stillUsed) {
        Storage st = t.storage();
        if (closed || kept.contains(st)) {
            return;
        }
        for (Tensor u : stillUsed) {
            if (u.storage() == st) {
                return;
            }
        }
        for (Iterator<Made> it = made.iterator(); it.hasNext(); ) {
            Made m = it.next();
            if (m.tensor().storage() == st) {
                it.remove();
                m.owner().release(m.tensor());
            }
        }
    }

    /** Releases everything made inside this scope except what was kept, which moves to the enclosing scope. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (CURRENT.get() != this) {
            throw new IllegalStateException("tensor scopes must close innermost first, on the thread that opened them");
        }
        closed = true;
        CURRENT.set(parent);
        RuntimeException first = null;
        for (Made m : made) {
            if (!kept.contains(m.tensor().storage())) {
                try {
                    m.owner().release(m.tensor());
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            } else if (parent != null) {
                parent.made.add(m);
            }
        }
        made.clear();
        if (first != null) {
            throw first;
        }
    }
}
