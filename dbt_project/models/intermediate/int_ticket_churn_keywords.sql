-- The churn keyword (seeds/churn_keywords.csv) each known version of a ticket's text mentions first,
-- matched case-insensitively; competitor mentions win over "no longer needed" when both appear.
select
    t.ticket_id,
    t.known_from,
    k.keyword,
    k.category
from {{ ref('int_ticket_states') }} as t
inner join {{ ref('churn_keywords') }} as k
    on contains(lower(t.content), lower(k.keyword))
qualify row_number() over (
        partition by t.ticket_id, t.known_from
        order by k.category = 'competitor' desc, strpos(lower(t.content), lower(k.keyword)), k.keyword
    ) = 1
